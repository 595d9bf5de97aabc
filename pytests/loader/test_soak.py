"""Fault-injection soak (issue 14, bounded, loopback only): a load runs against a fake PostHog that
answers 10% of requests 503, 5% 429 and resets 3% of connections (half of them after keeping the
events), and meanwhile is killed with SIGKILL, overlapped by a second run and starved by a full
disk under its state. It ends with every uuid delivered exactly once (as PostHog keeps them), only
the rows PostHog refuses quarantined, and the token nowhere on disk or in any output.

The full disk is a small tmpfs when this process may mount one; otherwise the running loader's
file size limit is lowered under it (prlimit: its next state write fails with EFBIG, as a full disk
fails with ENOSPC). SOAK_EVENTS and SOAK_SEED size and replay it.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from loader.conftest import TOKEN, Project, rows_for
from support.fake_posthog import CaptureServer, Fault, FaultPlan
from support.loader_process import DEADLINE_SECONDS, start_loader, wait_for

pytestmark = pytest.mark.slow

EVENTS = int(os.environ.get("SOAK_EVENTS", "6000"))
SEED = int(os.environ.get("SOAK_SEED", "14"))
TMPFS_BYTES = 8 * 1024 * 1024
FAULTS = FaultPlan(
    [
        (0.10, Fault.respond(503)),
        (0.05, Fault.respond(429, retry_after=0)),
        (0.015, Fault.connection_reset()),
        (0.015, Fault.connection_reset(after_store=True)),
    ],
    seed=SEED,
)
# PostHog alone refuses these (an empty event name inside the payload): they, and only they, end
# in the quarantine.
REFUSED = (101, 2345, 4000)


class SmallDisk:
    """Where the state lives, and a way to make it full while a loader writes there."""

    def __init__(self, root: Path) -> None:
        self.path = root / "small-disk"
        self.path.mkdir()
        self.tmpfs = (
            subprocess.run(
                ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_BYTES}", "tmpfs", str(self.path)],
                capture_output=True,
                check=False,
            ).returncode
            == 0
        )
        self._filler = self.path / "filler"

    def fill(self, loader_pid: int) -> None:
        if self.tmpfs:
            with self._filler.open("wb") as filler, contextlib.suppress(OSError):
                while True:
                    filler.write(b"\0" * 65536)
            return
        # No mount: no file of the loader's may grow past its current size.
        largest = max(path.stat().st_size for path in self.path.iterdir())
        resource.prlimit(loader_pid, resource.RLIMIT_FSIZE, (largest, resource.RLIM_INFINITY))

    def free(self) -> None:
        self._filler.unlink(missing_ok=True)

    def close(self) -> None:
        if self.tmpfs:
            subprocess.run(["umount", str(self.path)], check=False)


@contextlib.contextmanager
def small_disk(root: Path) -> Iterator[SmallDisk]:
    disk = SmallDisk(root)
    try:
        yield disk
    finally:
        disk.close()


class Runs:
    """Loader processes of the soak, their outputs kept to search for the token."""

    def __init__(self, project: Project, state: Path) -> None:
        self._project = project
        self._state = state
        self.outputs: list[bytes] = []
        self.exit_codes: list[int] = []

    def start(self) -> subprocess.Popen[bytes]:
        return start_loader(
            self._project.root,
            self._project.env(),
            "--state-file",
            str(self._state),
            "--report",
            str(self._state.parent / f"report-{len(self.exit_codes)}.json"),
            "--batch-events",
            "50",
            "--concurrency",
            "3",
            "--max-retries",
            "10",
            "--retry-base-delay",
            "0.01",
            "--retry-max-delay",
            "0.05",
        )

    def finish(self, process: subprocess.Popen[bytes]) -> int:
        stdout, stderr = process.communicate(timeout=2 * DEADLINE_SECONDS)
        self.outputs += [stdout, stderr]
        self.exit_codes.append(process.returncode)
        return process.returncode

    def run(self) -> int:
        return self.finish(self.start())


def _delivered(state: Path) -> int:
    with contextlib.suppress(OSError, ValueError, KeyError):
        return orjson.loads(state.read_bytes())["checkpoints"]["events"]["all"]["rows_delivered"]
    return 0


def _holds_lease(state: Path, pid: int) -> bool:
    with contextlib.suppress(OSError, ValueError):
        lease = state.with_name(f"{state.name}.events.all.lease")
        return orjson.loads(lease.read_bytes())["pid"] == pid
    return False


def test_soak(project: Project, capture: CaptureServer, tmp_path: Path):
    events = rows_for("events", EVENTS)
    for index in REFUSED:
        payload = orjson.loads(events[index].payload)
        payload["event"] = ""
        events[index].payload = orjson.dumps(payload).decode()
    project.set_rows("events", events)
    expected = set(project.uuids())
    refused = {events[index].uuid for index in REFUSED}
    capture.fault_hook = FAULTS
    capture.default_delay = 0.02

    with small_disk(tmp_path) as disk:
        state = disk.path / "state.json"
        runs = Runs(project, state)

        # 1. kill -9 in the middle of the events.
        killed = runs.start()
        wait_for(lambda: _delivered(state) >= EVENTS // 5, "a checkpoint inside the events")
        killed.send_signal(signal.SIGKILL)
        assert runs.finish(killed) == -signal.SIGKILL

        # 2. an overlapping run while the next one holds the lease.
        capture.default_delay = 0.2
        holder = runs.start()
        wait_for(lambda: _holds_lease(state, holder.pid), "the second run's lease")
        assert runs.run() == 8
        assert f"pid {holder.pid}".encode() in runs.outputs[-1]

        # 3. the disk under the state fills while that run is loading.
        wait_for(lambda: _delivered(state) > EVENTS // 5 + 100, "the second run's progress")
        disk.fill(holder.pid)
        assert runs.finish(holder) == 7
        full_disk_message = runs.outputs[-1]
        disk.free()
        assert b"could not be written" in full_disk_message
        assert (b"No space left" if disk.tmpfs else b"File too large") in full_disk_message

        # 4. resume to the end, faults still on.
        capture.default_delay = 0.0
        # Finished (1 if the rows PostHog refuses were quarantined by this run, not an earlier one).
        assert runs.run() in (0, 1)
        requests_before = len(capture.requests)
        assert runs.run() == 0
        assert len(capture.requests) == requests_before  # a run after that has nothing to send

        quarantine = [
            orjson.loads(line)
            for line in state.with_name("state.quarantine.jsonl").read_bytes().splitlines()
        ]
        leaked = [
            path.name
            for path in [*disk.path.iterdir(), *project.root.glob("*.json")]
            if TOKEN.encode() in path.read_bytes() or TOKEN[4:].encode() in path.read_bytes()
        ]

    kept = capture.deduplicated()
    received = Counter(capture.uuids())
    summary = {
        "events": EVENTS,
        "seed": SEED,
        "tmpfs": disk.tmpfs,
        "exit_codes": runs.exit_codes,
        "requests": len(capture.requests),
        "faults": dict(Counter(r.fault for r in capture.requests if r.fault)),
        "statuses": {str(k): v for k, v in Counter(r.status for r in capture.requests).items()},
        "events_received": sum(received.values()),
        "uuids_received": len(received),
        "uuids_received_more_than_once": sum(1 for count in received.values() if count > 1),
        "rows_posthog_keeps": len(kept),
        "quarantined": len(quarantine),
    }
    print("\nsoak:", orjson.dumps(summary).decode())

    assert set(received) == expected - refused
    assert len(kept) == len(expected) - len(refused)  # each exactly once, as PostHog keeps them
    assert {(row["uuid"], row["reason"]) for row in quarantine} == {
        (uuid, "rejected_by_posthog") for uuid in refused
    }
    assert leaked == []
    assert all(TOKEN[4:].encode() not in output for output in runs.outputs), "the token was printed"
    faults = summary["faults"]
    assert faults["status_503"] and faults["status_429"]
    assert faults.get("reset", 0) + faults.get("reset_after_store", 0)
