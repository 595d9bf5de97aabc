"""State survives crashes and full disks: a torn record is dropped with a warning, a full disk is
exit 7, and the next run resumes, delivering every row (PostHog holds each once)."""

from __future__ import annotations

import orjson

from loader.conftest import Project, rows_for
from support.fake_posthog import CaptureServer
from support.full_disk import full_disk


def _state(project: Project) -> list[str]:
    return ["--state-file", str(project.root / "state" / "load.json")]


def _lines(path) -> list[dict]:  # type: ignore[no-untyped-def]
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_a_torn_record_tail_is_dropped_with_a_warning_and_later_runs_work(
    project: Project, capture: CaptureServer
):
    record = project.root / "state" / "load.delivered.jsonl"
    assert project.run("--models", "aliases", *_state(project)).exit_code == 0
    # A kill -9 (or a full disk) in the middle of an append.
    with record.open("ab") as handle:
        handle.write(b'{"model":"aliases","shard":"all","uuid":"0190')
    project.add_rows("aliases", rows_for("aliases", 30)[20:])

    second = project.run("--models", "aliases", *_state(project))

    assert second.exit_code == 0, second.output
    assert "torn by a crash or a full disk" in second.stderr
    assert record.read_bytes().endswith(b"\n")
    assert len(_lines(record)) == 30
    capture.reset()
    third = project.run("--models", "aliases", *_state(project))
    assert third.exit_code == 0, third.output
    assert capture.requests == []
    assert "warning" not in third.stderr


def test_a_damaged_line_left_by_an_older_version_is_skipped_with_a_warning(
    project: Project, capture: CaptureServer
):
    record = project.root / "state" / "load.delivered.jsonl"
    assert project.run("--models", "aliases", *_state(project)).exit_code == 0
    lines = record.read_bytes().splitlines(keepends=True)
    record.write_bytes(b"".join([*lines[:5], b'{"model":"ali{"model":"aliases"}\n', *lines[5:]]))
    capture.reset()

    again = project.run("--models", "aliases", *_state(project))

    assert again.exit_code == 0, again.output
    assert "line 6 is damaged and was skipped" in again.stderr
    # The skipped line named no uuid: nothing is sent again.
    assert capture.requests == []


def test_a_full_disk_is_exit_7_and_a_rerun_resumes(project: Project, capture: CaptureServer):
    state_dir = project.root / "state"
    state_dir.mkdir()
    with full_disk(state_dir) as disk:
        # Room for the first save only (the record of 400 uuids needs ~50 kB).
        disk.fill(free_bytes=6_000)
        failed = project.run("--models", "events", "--concurrency", "1", *_state(project))

    assert failed.exit_code == 7, failed.output
    assert "could not be written" in failed.stderr
    assert "No space left on device" in failed.stderr
    assert "run the same command again to resume" in failed.stderr
    checkpoint = orjson.loads((state_dir / "load.json").read_bytes())["checkpoints"]["events"]
    assert checkpoint["all"]["rows_delivered"] < 400

    resumed = project.run("--models", "events", *_state(project))

    assert resumed.exit_code == 0, resumed.output
    assert set(capture.uuids()) == set(project.uuids("events"))
    assert len(capture.deduplicated()) == 400
    record = _lines(state_dir / "load.delivered.jsonl")
    assert len({entry["uuid"] for entry in record}) == 400


def test_a_report_that_cannot_be_written_at_the_end_is_exit_7(
    project: Project, capture: CaptureServer
):
    out = project.root / "out"
    out.mkdir()
    with full_disk(out) as disk:
        disk.fill(free_bytes=100)
        result = project.run("--models", "aliases", "--report", str(out / "report.json"))

    assert result.exit_code == 7, result.output
    assert "report could not be written" in result.stderr
    # The load itself went through.
    assert set(capture.uuids()) == set(project.uuids("aliases"))
