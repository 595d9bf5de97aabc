"""Run the fake PostHog on its own: `python -m support.fake_posthog --port 8123 --token phc_x`
(from pytests/, or with it on PYTHONPATH). It prints `listening on <url>` once ready.

With --workers 2 it accepts on the port from two processes (benchmarks); /_admin/stats then counts
events and uuids over all workers, requests and faults per worker.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import sys
import tempfile
from pathlib import Path

if not __package__:  # run by path: make `support` importable as under pytest
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from support.fake_posthog.server import CaptureServer


def _serve_until_signalled(
    server: CaptureServer, sock: socket.socket | None, announce: bool
) -> None:
    async def run() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, server.stop)
        ready = (lambda: print(f"listening on {server.url}", flush=True)) if announce else None
        await server.serve(ready, sock)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A fake PostHog (capture and query API).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", action="append", help="accepted project token (repeatable)")
    parser.add_argument("--record", choices=["full", "uuids", "count"], default="uuids")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes accepting on the same port (benchmarks; needs --record uuids). Each "
        "worker keeps its own fault queue, so program faults with one worker.",
    )
    arguments = parser.parse_args(argv)
    tokens = arguments.token or ["phc_test"]
    if arguments.workers == 1:
        server = CaptureServer(
            tokens, host=arguments.host, port=arguments.port, record=arguments.record
        )
        _serve_until_signalled(server, None, announce=True)
        return
    if arguments.record != "uuids":
        parser.error("--workers needs --record uuids")
    sock = socket.create_server((arguments.host, arguments.port), backlog=128)
    with tempfile.TemporaryDirectory(prefix="fake-posthog-") as record_dir:
        children = []
        for _ in range(arguments.workers):
            pid = os.fork()
            if pid == 0:
                worker = CaptureServer(
                    tokens, host=arguments.host, record="uuids", record_dir=Path(record_dir)
                )
                _serve_until_signalled(worker, sock, announce=False)
                os._exit(0)
            children.append(pid)
        stop_signals = {signal.SIGINT, signal.SIGTERM}
        signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
        print(f"listening on http://{arguments.host}:{sock.getsockname()[1]}", flush=True)
        signal.sigwait(stop_signals)
        for pid in children:
            os.kill(pid, signal.SIGTERM)
        for pid in children:
            os.waitpid(pid, 0)


if __name__ == "__main__":
    main()
