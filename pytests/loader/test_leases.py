"""One run at a time per (state, model, shard): a second run says who holds the lease and exits 8,
sending nothing; a crashed holder's lease does not block the next run for long."""

from __future__ import annotations

import datetime as dt
import signal
import socket
import subprocess
import sys

import duckdb
import pytest

from loader.conftest import Project
from posthog_loader.dbt import Target
from posthog_loader.errors import LeaseHeldError
from posthog_loader.state import WarehouseStateStore
from posthog_loader.state.lease import Holder
from posthog_loader.warehouse import Statement
from posthog_loader.warehouse.duckdb import DuckDBWarehouse
from support.fake_posthog import CaptureServer
from support.loader_process import start_loader, wait_for

LEASES = "main.posthog_load_lease"


@pytest.mark.slow
def test_an_overlapping_run_on_a_state_file_exits_8_and_a_killed_holder_blocks_nothing(
    project: Project, capture: CaptureServer
):
    state = project.root / "state.json"
    lease = project.root / "state.json.events.all.lease"
    capture.default_delay = 1.0  # 8 requests one after another: slow enough to overlap
    first = start_loader(
        project.root,
        project.env(),
        "--models",
        "events",
        "--batch-events",
        "50",
        "--concurrency",
        "1",
        "--state-file",
        str(state),
        output=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: capture.requests, "the first run to send")

        second = project.run("--models", "events", "--state-file", str(state))

        assert second.exit_code == 8, second.output
        assert f"pid {first.pid}" in second.stderr
        assert f"host {socket.gethostname()}" in second.stderr
        assert Holder.from_json(lease.read_text()) is not None
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(30)

    # The operating system dropped the dead holder's lock: the next run goes ahead at once.
    capture.default_delay = 0.0
    resumed = project.run("--models", "events", "--state-file", str(state))

    assert resumed.exit_code == 0, resumed.output
    assert set(capture.uuids()) == set(project.uuids("events"))
    assert len(capture.deduplicated()) == 400


def test_shards_hold_leases_of_their_own(project: Project, capture: CaptureServer):
    state = project.root / "state.json"
    for shard in ("0/2", "1/2"):
        assert project.run("--shard", shard, "--state-file", str(state)).exit_code == 0

    assert sorted(path.name for path in project.root.glob("*.lease")) == sorted(
        f"state.json.{model}.{shard}-of-2.lease"
        for model in ("aliases", "persons", "events")
        for shard in ("0", "1")
    )


def _add_lease(project: Project, host: str, pid: int, expires: dt.datetime) -> None:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with duckdb.connect(str(project.db_path)) as con:
        con.execute(
            f"insert into {LEASES} values ('events', 'all', 'other-run', ?, ?, ?, ?)",
            [host, pid, now - dt.timedelta(minutes=5), expires],
        )


def test_a_live_lease_in_the_state_tables_stops_the_run_naming_its_holder(
    project: Project, capture: CaptureServer
):
    assert project.run("--models", "aliases").exit_code == 0  # creates the state tables
    capture.reset()
    expires = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(minutes=5)
    _add_lease(project, "scheduler-7", 4242, expires)

    result = project.run("--models", "events")

    assert result.exit_code == 8, result.output
    assert "host scheduler-7, pid 4242" in result.stderr
    assert "lease expires at" in result.stderr
    assert capture.requests == []
    # Its own claim was withdrawn: only the holder's row is left.
    assert project.query(f"select lease_id from {LEASES}") == [("other-run",)]


def test_an_expired_lease_or_a_dead_local_holder_does_not_block(
    project: Project, capture: CaptureServer
):
    assert project.run("--models", "aliases").exit_code == 0
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    _add_lease(project, "crashed-elsewhere", 17, now - dt.timedelta(seconds=1))
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    _add_lease(project, socket.gethostname(), int(dead.stdout), now + dt.timedelta(minutes=5))

    result = project.run("--models", "events")

    assert result.exit_code == 0, result.output
    assert set(capture.uuids()) >= set(project.uuids("events"))
    # Released at the end of the run.
    assert project.query(f"select count(*) from {LEASES}") == [(0,)]


def test_a_lease_taken_over_after_it_expired_is_noticed_at_the_next_renewal(project: Project):
    assert project.run("--models", "aliases").exit_code == 0
    target = Target("fixture_profile", "dev", "duckdb", {"path": str(project.db_path)})
    warehouse = DuckDBWarehouse(target, read_only=False, memory_limit="256MB")
    try:
        store = WarehouseStateStore(warehouse, "warehouse", "main")
        store.claim([("events", "all")])
        store.renew()  # still ours
        # It expired (a frozen process) and another run claimed it.
        warehouse.execute(Statement(f"delete from {LEASES}"))
        warehouse.execute(
            Statement(
                f"insert into {LEASES} values ('events', 'all', 'taker', 'other-host', 1,"
                " timestamp '2099-01-01', timestamp '2100-01-01')"
            )
        )

        with pytest.raises(LeaseHeldError, match="expired and was taken over"):
            store.renew()
    finally:
        warehouse.close()
