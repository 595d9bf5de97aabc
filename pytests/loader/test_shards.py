"""--shard i/n: n loaders read disjoint slices (mod(shard_key, n) = i) whose union is every row, each
with its own checkpoint, in turn or at once, and one can crash and resume alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence

import duckdb
import orjson
import pytest

from loader.conftest import SCHEMA, Project, rows_for
from posthog_loader import cli
from posthog_loader.config import LoadSettings
from posthog_loader.errors import ConfigError
from posthog_loader.sharding import Shard, parse_shard
from support.fake_posthog import CaptureServer

STATES = ["warehouse", "file"]
DEADLINE_SECONDS = 60


def _state_args(project: Project, state: str) -> list[str]:
    return ["--state-file", str(project.root / "state.json")] if state == "file" else []


def _loader(project: Project, *args: str) -> subprocess.Popen[bytes]:
    env = {
        key: value for key, value in {**os.environ, **project.env()}.items() if value is not None
    }
    env.pop("DBT_PROFILES_DIR", None)
    command = [sys.executable, "-m", "posthog_loader", "--project-dir", str(project.root)]
    return subprocess.Popen(
        [*command, "--batch-events", "50", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _finish(processes: Sequence[subprocess.Popen[bytes]]) -> list[int]:
    codes = []
    for process in processes:
        try:
            _, stderr = process.communicate(timeout=DEADLINE_SECONDS)
        finally:
            if process.poll() is None:
                process.kill()
        assert process.returncode == 0, stderr.decode()
        codes.append(process.returncode)
    return codes


@pytest.mark.parametrize("state", STATES)
def test_shards_deliver_disjoint_slices_whose_union_is_every_row(
    project: Project, capture: CaptureServer, state: str
):
    slices = []
    for index in range(3):
        capture.reset()
        result = project.run(*_state_args(project, state), "--shard", f"{index}/3")
        assert result.exit_code == 0, result.output
        assert f"(shard {index}/3)" in result.stdout
        slices.append(set(capture.uuids()))

    assert all(slices)
    assert not (slices[0] & slices[1] or slices[0] & slices[2] or slices[1] & slices[2])
    assert set().union(*slices) == set(project.uuids())
    for index in range(3):
        capture.reset()
        assert project.run(*_state_args(project, state), "--shard", f"{index}/3").exit_code == 0
        assert capture.uuids() == []


@pytest.mark.slow
def test_shards_in_parallel_processes_share_one_state_file(
    project: Project, capture: CaptureServer
):
    project.set_rows("events", rows_for("events", 1500))
    state = str(project.root / "state.json")

    _finish(
        [_loader(project, "--state-file", state, "--shard", f"{index}/3") for index in range(3)]
    )

    received = capture.uuids()
    assert sorted(received) == sorted(project.uuids())  # each row once, none missing
    checkpoints = orjson.loads((project.root / "state.json").read_bytes())["checkpoints"]
    assert sorted(checkpoints["events"]) == ["0/3", "1/3", "2/3"]
    assert sum(entry["rows_delivered"] for entry in checkpoints["events"].values()) == 1500


@pytest.mark.slow
def test_a_killed_shard_resumes_alone(project: Project, capture: CaptureServer):
    project.set_rows("events", rows_for("events", 2000))
    state = ["--state-file", str(project.root / "state.json"), "--concurrency", "2"]
    capture.default_delay = 0.1
    doomed = _loader(project, *state, "--shard", "0/2")
    survivor = _loader(project, *state, "--shard", "1/2")
    try:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while capture.event_count < 600:
            assert time.monotonic() < deadline, "the shards never got going"
            time.sleep(0.02)
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(DEADLINE_SECONDS)
    finally:
        if doomed.poll() is None:
            doomed.kill()
    capture.default_delay = 0
    _finish([survivor])
    first = set(capture.uuids())
    assert first != set(project.uuids())  # shard 0 did not finish
    capture.reset()

    assert project.run(*state, "--shard", "0/2").exit_code == 0
    assert project.run(*state, "--shard", "1/2").exit_code == 0

    assert first | set(capture.uuids()) == set(project.uuids())
    shard_1 = {uuid for uuid in project.uuids() if uuid and int(uuid[-8:], 16) % 2 == 1}
    assert not (set(capture.uuids()) & shard_1)  # the survivor's slice was not sent again


@pytest.mark.parametrize("state", STATES)
def test_another_split_is_refused_unless_reset(
    project: Project, capture: CaptureServer, state: str
):
    assert project.run(*_state_args(project, state)).exit_code == 0
    capture.reset()

    refused = project.run(*_state_args(project, state), "--shard", "0/2")

    assert refused.exit_code == 2
    assert "state saved under all" in refused.stderr
    assert capture.requests == []
    assert project.run(*_state_args(project, state), "--shard", "0/2", "--reset").exit_code == 0
    assert project.run(*_state_args(project, state), "--shard", "1/2").exit_code == 0
    assert sorted(capture.uuids()) == sorted(project.uuids())
    # Back to one loader: refused too, since the two shards' state covers the rows.
    assert project.run(*_state_args(project, state)).exit_code == 2


def test_sharding_needs_the_shard_key_column(project: Project, capture: CaptureServer):
    with duckdb.connect(str(project.db_path)) as con:
        con.execute(
            f"create or replace view {SCHEMA}.posthog_events as select * from staging.src_events"
        )

    result = project.run("--shard", "0/2")

    assert result.exit_code == 5
    assert "shard_key" in result.stderr and "dbt build" in result.stderr
    assert capture.requests == []


@pytest.mark.parametrize(
    ("text", "shard"),
    [(None, Shard()), ("0/1", Shard()), ("2/4", Shard(2, 4)), (" 0 / 8 ", Shard(0, 8))],
)
def test_shard_specs(text: str | None, shard: Shard):
    assert parse_shard(text) == shard


@pytest.mark.parametrize("text", ["4/4", "1", "-1/2", "0/0", "a/b"])
def test_bad_shard_specs_name_the_flag(text: str):
    with pytest.raises(ConfigError, match="--shard"):
        parse_shard(text)


def test_state_keys_and_splits():
    assert Shard().key == "all" and Shard(0, 1).key == "all"
    assert Shard(1, 4).key == "1/4"
    assert Shard(1, 4).same_split("3/4")
    assert not Shard(1, 4).same_split("1/14")
    assert not Shard(1, 4).same_split("all")
    assert not Shard().same_split("0/2")


def test_the_rate_budget_is_split_across_the_shards(project: Project, monkeypatch):
    seen: list[LoadSettings] = []

    class Recorder:
        report = None

        def __init__(self, settings: LoadSettings, *_args: object) -> None:
            seen.append(settings)

        def execute(self) -> None:
            return None

    monkeypatch.setattr(cli, "LoadRun", Recorder)

    assert project.run("--rate", "1000", "--shard", "1/4").exit_code == 0
    assert project.run("--rate", "1000").exit_code == 0

    assert [settings.lane.send.rate for settings in seen] == [250, 1000]
    assert seen[0].shard == Shard(1, 4)
