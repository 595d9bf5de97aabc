"""The Redshift stand-in: a private PostgreSQL server behind a small front door that speaks to Redshift's
clients the way Redshift does. Test-only; run as `python redshift_stand_in_server.py --port P --data-dir D`.

No Redshift emulator exists, so the nearest real engine stands in: PostgreSQL (Debian's `postgresql`
package), on 127.0.0.1 only. The front door changes nothing but the connection start-up, where Redshift and
PostgreSQL differ in two ways that stop `redshift_connector` (and so dbt-redshift and the loader) before a
single query:

- Redshift accepts the driver's own start-up parameters (client_protocol_version, driver_version, os_version,
  driver_discovery_version); PostgreSQL refuses any parameter it does not know. The front door leaves them
  out of the start-up packet.
- Redshift reports `server_version` 8.0.2, which the driver parses as a version number; PostgreSQL reports
  "15.x (Debian ...)", which it cannot parse. The front door reports 8.0.2.

After the start-up every byte passes through unchanged, both ways. The server runs with the settings of a
Redshift session where they differ from PostgreSQL's defaults (backslash escapes in string literals, UTC).
PostgreSQL refuses to run as root: when the tests run as root, the server runs as an unprivileged user
(`postgres`, which Debian's package creates, else one created here).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import glob
import os
import pwd
import shutil
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

HOST = "127.0.0.1"
SUPERUSER = "redshift_admin"
_SSL_REQUEST = 80877103
_PROTOCOL_3 = 196608
_REDSHIFT_ONLY_PARAMETERS = {
    b"client_protocol_version",
    b"driver_version",
    b"os_version",
    b"driver_discovery_version",
}
_REDSHIFT_SERVER_VERSION = b"8.0.2"
_SERVER_USER = "postgres"
_FALLBACK_SERVER_USER = "posthog-migrate-pg"
_PR_SET_PDEATHSIG = 1  # Linux prctl(2)
# Redshift's session defaults where PostgreSQL's differ (backslash escapes in literals, as in PostgreSQL 8.0).
_SERVER_SETTINGS = {
    "standard_conforming_strings": "off",
    "escape_string_warning": "off",
    "timezone": "UTC",
    "datestyle": "ISO, MDY",
    "max_connections": "40",
    "shared_buffers": "32MB",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}


def postgres_bin_dir() -> Path:
    """PostgreSQL's server programs: $POSTGRES_BIN_DIR, Debian's newest /usr/lib/postgresql/N/bin, or PATH."""
    if configured := os.environ.get("POSTGRES_BIN_DIR"):
        return Path(configured)
    debian = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/postgres"),
        key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0,
    )
    if debian:
        return Path(debian[-1]).parent
    found = shutil.which("postgres") or shutil.which("initdb")
    if found is None:
        raise SystemExit(
            "PostgreSQL is not installed: `apt-get install postgresql` (make test-all does it)."
        )
    return Path(found).resolve().parent


def _server_user() -> pwd.struct_passwd | None:
    """The user the server runs as: None (this one) unless this is root, which PostgreSQL refuses."""
    if os.geteuid() != 0:
        return None
    for name in (_SERVER_USER, _FALLBACK_SERVER_USER):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    subprocess.run(
        [
            "useradd",
            "--system",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            _FALLBACK_SERVER_USER,
        ],
        check=True,
    )
    return pwd.getpwnam(_FALLBACK_SERVER_USER)


def _run_as(user: pwd.struct_passwd | None) -> dict:
    return {} if user is None else {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def initialise(data_dir: Path, user: pwd.struct_passwd | None) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    if user is not None:
        os.chown(data_dir, user.pw_uid, user.pw_gid)
    # TCP clients give a password (md5, as Redshift's password users do); the socket is for set-up.
    command = [
        str(postgres_bin_dir() / "initdb"), "--pgdata", str(data_dir), "--username", SUPERUSER,
        "--auth-host", "md5", "--auth-local", "trust", "--encoding", "UTF8", "--locale", "C.UTF-8",
        "--no-sync",
    ]  # fmt: skip
    subprocess.run(
        command,
        check=True,
        stdout=subprocess.DEVNULL,
        cwd=data_dir.parent,
        **_run_as(user),
    )


def set_up(data_dir: Path, port: int, password: str, database: str, init_sql: Path | None) -> None:
    """The superuser's password (stored as md5), the database the clients connect to, and the test's own
    Redshift shims (`init_sql`) in it."""
    psql = [
        str(postgres_bin_dir() / "psql"), "--quiet", "--no-psqlrc", "--set", "ON_ERROR_STOP=1",
        "--host", str(data_dir.parent / "socket"), "--port", str(port), "--username", SUPERUSER,
    ]  # fmt: skip
    commands = [
        ["--dbname", "postgres", "--command", "set password_encryption = 'md5'; "
         f"alter role {SUPERUSER} password '{password}'"],
        ["--dbname", "postgres", "--command", f"create database {database}"],
    ]  # fmt: skip
    if init_sql is not None:
        commands.append(["--dbname", database, "--file", str(init_sql)])
    for command in commands:
        subprocess.run([*psql, *command], check=True, stdout=subprocess.DEVNULL)


def start_postgres(data_dir: Path, port: int, user: pwd.struct_passwd | None) -> subprocess.Popen:
    socket_dir = data_dir.parent / "socket"
    socket_dir.mkdir(exist_ok=True)
    if user is not None:
        os.chown(socket_dir, user.pw_uid, user.pw_gid)
    settings = [f"--{name}={value}" for name, value in _SERVER_SETTINGS.items()]
    command = [
        str(postgres_bin_dir() / "postgres"), "-D", str(data_dir), "-p", str(port), "-h", HOST,
        "-k", str(socket_dir), *settings,
    ]  # fmt: skip
    # preexec_fn is safe here: the launcher starts no thread before the server
    return subprocess.Popen(
        command,
        cwd=data_dir.parent,
        preexec_fn=_stop_with_parent,  # noqa: PLW1509
        **_run_as(user),
    )


def _stop_with_parent() -> None:
    """The server shuts down (fast) when this launcher dies, even by SIGKILL: no server outlives its test."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGINT)


async def _relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


def _startup_without_redshift_parameters(body: bytes) -> bytes:
    """A start-up message (after its length) with only the parameters PostgreSQL knows."""
    fields = body[4:].split(b"\0")
    kept = []
    for name, value in zip(fields[0::2], fields[1::2], strict=False):
        if name and name not in _REDSHIFT_ONLY_PARAMETERS:
            kept += [name, value]
    return body[:4] + b"".join(part + b"\0" for part in kept) + b"\0"


async def _front_door(
    client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter, postgres_port: int
) -> None:
    try:
        while True:
            (length,) = struct.unpack("!i", await client_reader.readexactly(4))
            body = await client_reader.readexactly(length - 4)
            (code,) = struct.unpack("!i", body[:4])
            if code != _SSL_REQUEST:
                break
            client_writer.write(b"N")  # no TLS on loopback; the profile says sslmode: disable
            await client_writer.drain()
        if code == _PROTOCOL_3:
            body = _startup_without_redshift_parameters(body)
        server_reader, server_writer = await asyncio.open_connection(HOST, postgres_port)
        server_writer.write(struct.pack("!i", len(body) + 4) + body)
        await server_writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        client_writer.close()
        return
    await asyncio.gather(
        _relay(client_reader, server_writer),
        _relay_with_redshift_version(server_reader, client_writer),
    )


async def _relay_with_redshift_version(
    server_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
) -> None:
    """The server's messages up to the first ReadyForQuery (authentication, settings) one by one, reporting
    Redshift's server_version; then every byte as it comes."""
    try:
        while True:
            header = await server_reader.readexactly(5)
            kind, (size,) = header[:1], struct.unpack("!i", header[1:])
            message = await server_reader.readexactly(size - 4)
            if kind == b"S" and message.startswith(b"server_version\0"):
                message = b"server_version\0" + _REDSHIFT_SERVER_VERSION + b"\0"
            client_writer.write(kind + struct.pack("!i", len(message) + 4) + message)
            await client_writer.drain()
            if kind in (b"Z", b"E"):
                break
    except (asyncio.IncompleteReadError, ConnectionError):
        client_writer.close()
        return
    await _relay(server_reader, client_writer)


def wait_for_postgres(data_dir: Path, port: int, postgres: subprocess.Popen) -> None:
    """Until the server accepts sessions (a listening port alone may still answer "starting up")."""
    ready = [
        str(postgres_bin_dir() / "pg_isready"), "--quiet", "--host", str(data_dir.parent / "socket"),
        "--port", str(port), "--username", SUPERUSER, "--dbname", "postgres",
    ]  # fmt: skip
    deadline = time.monotonic() + 60
    while subprocess.run(ready, check=False).returncode != 0:
        if postgres.poll() is not None:
            raise SystemExit(f"postgres exited at start with code {postgres.returncode}")
        if time.monotonic() > deadline:
            raise SystemExit("postgres did not start in 60 s")
        time.sleep(0.1)


async def serve(port: int, postgres_port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    server = await asyncio.start_server(
        lambda reader, writer: _front_door(reader, writer, postgres_port), HOST, port
    )
    print(f"Redshift stand-in ready on {HOST}:{port} (PostgreSQL on {postgres_port})", flush=True)
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="the Redshift-facing port")
    parser.add_argument("--postgres-port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True, help="a new folder for the cluster")
    parser.add_argument("--password", required=True, help=f"the password of {SUPERUSER}")
    parser.add_argument("--database", required=True, help="the database to create")
    parser.add_argument("--init-sql", type=Path, help="SQL to run in that database once it exists")
    args = parser.parse_args(argv)
    user = _server_user()
    if user is not None:
        # The unprivileged server must reach its folder: make the base traversable for it alone.
        os.chown(args.data_dir.parent, user.pw_uid, user.pw_gid)
    initialise(args.data_dir, user)
    postgres = start_postgres(args.data_dir, args.postgres_port, user)
    try:
        wait_for_postgres(args.data_dir, args.postgres_port, postgres)
        set_up(args.data_dir, args.postgres_port, args.password, args.database, args.init_sql)
        asyncio.run(serve(args.port, args.postgres_port))
    finally:
        if postgres.poll() is None:
            postgres.send_signal(signal.SIGINT)  # PostgreSQL's fast shutdown: ends open sessions
            try:
                postgres.wait(timeout=30)
            except subprocess.TimeoutExpired:
                postgres.kill()
                postgres.wait()
    sys.exit(0)


if __name__ == "__main__":
    main()
