"""Local Snowflake (fakesnow), BigQuery (bqemulator) and Redshift (PostgreSQL stand-in) servers for the warehouse
suite, on 127.0.0.1 only.

Each runs as a child process writing a log file. Both answer an internal error with HTTP 500, which the real
clients retry for minutes; `failure_since` reads the log so a caller can stop waiting at the first such error
and report the emulator's own message instead.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
FAKESNOW_LAUNCHER = Path(__file__).with_name("fakesnow_server.py")
BQEMULATOR_LAUNCHER = Path(__file__).with_name("bqemulator_server.py")
REDSHIFT_LAUNCHER = Path(__file__).with_name("redshift_stand_in_server.py")
# `make test-all` builds this venv: bqemulator needs duckdb 1.5.5 with its spatial extension wheel.
BQEMULATOR_VENV = Path(os.environ.get("BQEMULATOR_VENV", REPO_ROOT / ".venv-bqemulator"))
# `make fakesnow` builds this one: fakesnow pins duckdb 2.0, the main venv has 1.5.5.
FAKESNOW_VENV = Path(os.environ.get("FAKESNOW_VENV", REPO_ROOT / ".venv-fakesnow"))
BIGQUERY_PROJECT = "posthog-migrate-test"
STARTUP_SECONDS = 60


class EmulatorError(RuntimeError):
    pass


def free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@dataclass
class Emulator:
    """A server process: started by `start`, stopped (by its pid) by `stop`."""

    name: str
    command: list[str]
    log_path: Path
    # A log line matching this means the server failed a request with a 500 the client will retry.
    failure_pattern: re.Pattern[str]
    is_ready: Callable[[], bool]
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.command, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=REPO_ROOT
            )
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EmulatorError(f"{self.name} exited at start:\n{self.log_tail()}")
            if self.is_ready():
                return
            time.sleep(0.3)
        self.stop()
        raise EmulatorError(f"{self.name} did not start in {STARTUP_SECONDS}s:\n{self.log_tail()}")

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """Started for the `with` block, stopped after it whatever happens."""
        self.start()
        try:
            yield
        finally:
            self.stop()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def log_offset(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def failure_since(self, offset: int) -> str | None:
        """The log from the first failed request after `offset`, or None while there is none."""
        with self.log_path.open("rb") as log:
            log.seek(offset)
            text = log.read().decode(errors="replace")
        match = self.failure_pattern.search(text)
        if match is None:
            return None
        return (
            f"{self.name} failed a request (see {self.log_path}):\n{text[match.start() :][:6000]}"
        )

    def log_tail(self, characters: int = 4000) -> str:
        if not self.log_path.exists():
            return ""
        return self.log_path.read_bytes()[-characters:].decode(errors="replace")


def _accepts_connections(port: int) -> Callable[[], bool]:
    def ready() -> bool:
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1):
            return True
        return False

    return ready


def _answers_http(url: str) -> Callable[[], bool]:
    def ready() -> bool:
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
        return False

    return ready


@dataclass
class Fakesnow:
    emulator: Emulator
    port: int

    @classmethod
    def create(cls, log_dir: Path) -> Fakesnow:
        python = FAKESNOW_VENV / "bin" / "python"
        if not python.exists():
            raise EmulatorError(
                f"{python} is missing: `make fakesnow` (or `make test`) creates its venv."
            )
        port = free_port()
        emulator = Emulator(
            name="fakesnow",
            command=[str(python), str(FAKESNOW_LAUNCHER), "-s", "--host", HOST, "-p", str(port)],
            log_path=log_dir / "fakesnow.log",
            failure_pattern=re.compile(r"Unhandled exception|500 Internal Server Error"),
            is_ready=_accepts_connections(port),
        )
        return cls(emulator, port)

    def connect_arguments(self, database: str | None = None, schema: str | None = None) -> dict:
        """snowflake.connector.connect arguments; short timeouts so a dead server fails fast."""
        arguments = {
            "account": "fakesnow",
            "user": "fake",
            "password": "snow",
            "host": "localhost",
            "port": self.port,
            "protocol": "http",
            "login_timeout": 20,
            "network_timeout": 60,
        }
        if database:
            arguments["database"] = database
        if schema:
            arguments["schema"] = schema
        return arguments


@dataclass
class BigQueryEmulator:
    emulator: Emulator
    rest_port: int
    grpc_port: int
    project: str = BIGQUERY_PROJECT

    @classmethod
    def create(cls, log_dir: Path) -> BigQueryEmulator:
        executable = BQEMULATOR_VENV / "bin" / "bqemulator"
        python = BQEMULATOR_VENV / "bin" / "python"
        if not executable.exists():
            raise EmulatorError(
                f"{executable} is missing: `make bqemulator` (or `make test-all`) creates its venv."
            )
        rest_port, grpc_port = free_port(), free_port()
        command = [
            str(python), str(BQEMULATOR_LAUNCHER), "start", "--ephemeral", "--project", BIGQUERY_PROJECT,
            "--rest-host", HOST, "--rest-port", str(rest_port),
            "--grpc-host", HOST, "--grpc-port", str(grpc_port),
            "--log-level", "warning", "--log-format", "json",
        ]  # fmt: skip
        emulator = Emulator(
            name="bqemulator",
            command=command,
            log_path=log_dir / "bqemulator.log",
            failure_pattern=re.compile(r'"unhandled\.exception"|Exception in ASGI application'),
            is_ready=_answers_http(
                f"http://{HOST}:{rest_port}/bigquery/v2/projects/{BIGQUERY_PROJECT}/datasets"
            ),
            # DuckDB finds the spatial and avro extensions `make bqemulator` installed here, so it never
            # tries to download them.
            env={**os.environ, "HOME": str(BQEMULATOR_VENV / "home")},
        )
        return cls(emulator, rest_port, grpc_port)

    @property
    def api_endpoint(self) -> str:
        return f"http://{HOST}:{self.rest_port}"

    def client(self):  # -> google.cloud.bigquery.Client
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import bigquery

        return bigquery.Client(
            project=self.project,
            credentials=AnonymousCredentials(),
            client_options=ClientOptions(api_endpoint=self.api_endpoint),
        )


@dataclass
class RedshiftStandIn:
    """PostgreSQL behind Redshift's front door (support/redshift_stand_in_server.py), in a folder of its own
    under the system's temporary directory (an unprivileged server user must reach it)."""

    emulator: Emulator
    port: int
    base_dir: Path
    user: str = "redshift_admin"
    password: str = "stand-in-password"
    database: str = "dev"

    @classmethod
    def create(cls, log_dir: Path, init_sql: Path | None = None) -> RedshiftStandIn:
        """`init_sql`: the test's Redshift shims, run in the database before any client connects."""
        port, postgres_port = free_port(), free_port()
        base_dir = Path(tempfile.mkdtemp(prefix="posthog-migrate-redshift-"))
        command = [
            sys.executable, str(REDSHIFT_LAUNCHER), "--port", str(port),
            "--postgres-port", str(postgres_port), "--data-dir", str(base_dir / "data"),
            "--password", cls.password, "--database", cls.database,
            *(["--init-sql", str(init_sql.resolve())] if init_sql else []),
        ]  # fmt: skip
        emulator = Emulator(
            name="redshift stand-in",
            command=command,
            log_path=log_dir / "redshift_stand_in.log",
            # PostgreSQL answers every failed statement at once; only a crash is worth watching for.
            failure_pattern=re.compile(r"PANIC:|server process .* was terminated"),
            is_ready=_accepts_connections(port),
        )
        return cls(emulator, port, base_dir)

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """Started for the `with` block; stopped and its folder removed after it."""
        try:
            with self.emulator.running():
                yield
        finally:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def connect_arguments(self, database: str | None = None) -> dict:
        """redshift_connector.connect arguments: plain TCP on loopback, short timeouts."""
        return {
            "host": HOST,
            "port": self.port,
            "database": database or self.database,
            "user": self.user,
            "password": self.password,
            "ssl": False,
            "timeout": 60,
        }

    def connect(self, database: str | None = None):  # -> redshift_connector.Connection
        import redshift_connector

        return redshift_connector.connect(**self.connect_arguments(database))
