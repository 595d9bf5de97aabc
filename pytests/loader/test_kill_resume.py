"""Crash safety: SIGKILL a real load-posthog process mid-run, run it again, lose nothing."""

from __future__ import annotations

import signal
import subprocess
import time

import orjson
import pytest

from loader.conftest import Project, rows_for
from support.fake_posthog import CaptureServer
from support.loader_process import DEADLINE_SECONDS, start_loader, wait_for


def _start_loader(project: Project, *args: str) -> subprocess.Popen[bytes]:
    return start_loader(
        project.root, project.env(), "--batch-events", "50", "--concurrency", "3", *args
    )


def _events_checkpointed(project: Project, state: str, since: float) -> bool:
    if state == "file":
        path = project.root / "state.json"
        if not path.exists():
            return False
        checkpoints = orjson.loads(path.read_bytes())["checkpoints"]
        return checkpoints.get("events", {}).get("all", {}).get("rows_delivered", 0) >= 200
    # The DuckDB file is locked by the loader; outlast one checkpoint interval (1 s) instead.
    return time.monotonic() - since >= 1.5


@pytest.mark.slow
@pytest.mark.parametrize("state", ["warehouse", "file"])
def test_sigkill_mid_run_then_rerun_delivers_every_row(
    project: Project, capture: CaptureServer, state: str
):
    events = rows_for("events", 2000)
    project.set_rows("events", events)
    state_args = ["--state-file", str(project.root / "state.json")] if state == "file" else []
    capture.default_delay = 0.15  # about 3 s for the events model: the kill lands mid-load
    source = set(project.uuids())

    loader = _start_loader(project, *state_args)
    try:
        wait_for(lambda: capture.event_count > 50, "aliases and persons to finish")
        events_started = time.monotonic()
        wait_for(
            lambda: _events_checkpointed(project, state, events_started),
            "a checkpoint inside the events model",
        )
        loader.send_signal(signal.SIGKILL)
        loader.wait(DEADLINE_SECONDS)
    finally:
        if loader.poll() is None:
            loader.kill()
    assert loader.returncode == -signal.SIGKILL
    first_run = set(capture.uuids())
    assert 0 < len(first_run & {row.uuid for row in events}) < len(events)

    capture.default_delay = 0
    capture.reset()
    rerun = project.run(*state_args)

    assert rerun.exit_code == 0, rerun.output
    second_run = set(capture.uuids())
    assert first_run | second_run == source
    # It resumed from the checkpoint rather than starting over.
    assert len(second_run) < len(events)


@pytest.mark.slow
def test_sigterm_saves_the_checkpoint_and_exits_130(project: Project, capture: CaptureServer):
    project.set_rows("events", rows_for("events", 2000))
    state = project.root / "state.json"
    capture.default_delay = 0.15

    loader = _start_loader(project, "--state-file", str(state))
    try:
        wait_for(lambda: capture.event_count > 50 + 300, "the events model to be under way")
        loader.send_signal(signal.SIGTERM)
        _, stderr = loader.communicate(timeout=DEADLINE_SECONDS)
    finally:
        if loader.poll() is None:
            loader.kill()

    assert loader.returncode == 130
    assert b"Interrupted" in stderr
    delivered = orjson.loads(state.read_bytes())["checkpoints"]["events"]["all"]["rows_delivered"]
    first_run = set(capture.uuids())
    # The checkpoint holds the acknowledged prefix. Outside it: the 2 requests in flight
    # (--concurrency 2) and at most 1 finished batch waiting behind one of them (batches of 50).
    events_received = len(first_run) - 20 - 30  # minus the aliases and persons
    assert events_received - 3 * 50 <= delivered <= events_received
    capture.default_delay = 0
    capture.reset()
    assert project.run("--state-file", str(state)).exit_code == 0
    assert first_run | set(capture.uuids()) == set(project.uuids())
