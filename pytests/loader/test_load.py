"""End-to-end loads against the capture server: delivery, order, resume, dry run, recent events."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest

from loader.conftest import OLD, TOKEN, Project, Row, rows_for
from support.fake_posthog import CaptureServer

PLACEHOLDER = b'"<POSTHOG_API_KEY>"'


def test_every_row_arrives_exactly_once_with_its_exact_payload(
    project: Project, capture: CaptureServer
):
    result = project.run()

    assert result.exit_code == 0, result.output
    received = capture.events
    assert sorted(event.uuid for event in received) == sorted(project.uuids())
    payloads = {
        row.uuid: orjson.loads(row.payload) for model in project.rows for row in project.rows[model]
    }
    assert all(event.body == payloads[event.uuid] for event in received)
    assert all(event.historical_migration for event in received)
    assert not any(request.has_sent_at for request in capture.requests)
    assert all(request.compressed for request in capture.requests)


def test_models_load_in_canonical_order_each_finishing_first(
    project: Project, capture: CaptureServer
):
    result = project.run("--concurrency", "4")

    assert result.exit_code == 0, result.output
    kinds = [event.event for event in capture.events]
    model_of = [
        "aliases" if k == "$create_alias" else "persons" if k == "$set" else "events" for k in kinds
    ]
    # Arrival order: all aliases, then all persons, then all events.
    assert model_of == sorted(model_of, key=["aliases", "persons", "events"].index)


def test_models_subset_runs_in_canonical_order_whatever_the_flag_order(
    project: Project, capture: CaptureServer
):
    result = project.run("--models", "events,aliases")

    assert result.exit_code == 0, result.output
    kinds = [event.event for event in capture.events]
    assert "$set" not in kinds
    assert kinds.index("$create_alias") == 0
    assert kinds.count("$create_alias") == 20
    assert all(kind.startswith("event_") for kind in kinds[20:])


def test_rerun_after_a_finished_load_sends_nothing(project: Project, capture: CaptureServer):
    assert project.run().exit_code == 0
    first = len(capture.requests)

    again = project.run("--report", str(project.root / "again.json"))

    assert again.exit_code == 0, again.output
    assert len(capture.requests) == first
    report = orjson.loads((project.root / "again.json").read_bytes())
    assert report["totals"]["sent"] == 0
    assert {model["model"]: model["delivered_total"] for model in report["models"]} == {
        "aliases": 20,
        "persons": 30,
        "events": 400,
    }


def test_new_rows_after_a_finished_load_are_sent_on_the_next_run(
    project: Project, capture: CaptureServer
):
    assert project.run().exit_code == 0
    capture.reset()
    later = rows_for("events", 430)[400:]  # later timestamps, like a fresh day of data
    project.add_rows("events", later)

    assert project.run().exit_code == 0
    assert sorted(capture.uuids()) == sorted(row.uuid for row in later)


def test_reset_starts_the_selected_models_over(project: Project, capture: CaptureServer):
    assert project.run().exit_code == 0
    capture.reset()

    result = project.run("--reset", "--models", "persons")

    assert result.exit_code == 0, result.output
    assert sorted(capture.uuids()) == sorted(project.uuids("persons"))


def test_report_counts_names_and_never_the_key(project: Project, capture: CaptureServer):
    report_path = project.root / "out" / "report.json"

    result = project.run("--report", str(report_path))

    assert result.exit_code == 0
    raw = report_path.read_bytes()
    assert TOKEN.encode() not in raw
    report = orjson.loads(raw)
    assert report["host"] == capture.url
    assert report["dry_run"] is False
    assert report["exit_code"] == 0
    assert report["totals"]["sent"] == 450
    events = next(model for model in report["models"] if model["model"] == "events")
    assert events["rows_read"] == 400
    assert events["sent"] == 400
    assert events["quarantined"] == 0
    assert events["events_by_name"] == {"event_0": 134, "event_1": 133, "event_2": 133}
    assert events["first_timestamp"] == OLD.isoformat()
    assert events["last_timestamp"] == (OLD + 399 * dt.timedelta(minutes=7)).isoformat()
    # 400 events in batches of 50, none spanning two UTC days: 129 + 206 + 65 of them.
    assert events["requests"] == 3 + 5 + 2
    assert events["status"] == "complete"
    assert events["relation"] == '"warehouse"."analytics"."posthog_events"'


def test_checkpoint_lives_in_the_targets_schema_by_default(project: Project):
    assert project.run().exit_code == 0

    state = project.query(
        "select model, shard, rows_delivered from main.posthog_load_state order by model"
    )
    assert state == [("aliases", "all", 20), ("events", "all", 400), ("persons", "all", 30)]


def test_state_schema_flag_moves_the_state_tables(project: Project):
    assert project.run("--state-schema", "loader_state").exit_code == 0

    assert project.query("select count(*) from loader_state.posthog_load_state") == [(3,)]


def test_state_file_keeps_the_warehouse_untouched(project: Project, capture: CaptureServer):
    state_file = project.root / "state" / "load.json"

    assert project.run("--state-file", str(state_file)).exit_code == 0
    assert project.run("--state-file", str(state_file)).exit_code == 0  # resumes: nothing new

    assert len(capture.uuids()) == 450
    assert (
        orjson.loads(state_file.read_bytes())["checkpoints"]["events"]["all"]["rows_delivered"]
        == 400
    )
    tables = project.query("select table_name from information_schema.tables")
    assert ("posthog_load_state",) not in tables


def test_dry_run_writes_exactly_the_bodies_a_real_run_posts(
    project: Project, capture: CaptureServer
):
    dry_dir = project.root / "dry"

    dry = project.run("--dry-run", "--dry-run-dir", str(dry_dir), env={"POSTHOG_API_KEY": None})

    assert dry.exit_code == 0, dry.output
    assert capture.requests == []
    files = sorted(dry_dir.iterdir())
    assert [path.name for path in files[:2]] == ["aliases-000000.json", "events-000000.json"]
    assert not project.query(
        "select * from information_schema.tables where table_name like 'posthog_load%'"
    )

    assert project.run().exit_code == 0
    posted = sorted(
        request.body.replace(TOKEN.encode(), PLACEHOLDER[1:-1]) for request in capture.requests
    )
    assert posted == sorted(path.read_bytes() for path in files)
    assert all(PLACEHOLDER in path.read_bytes() for path in files)


def test_dry_run_previews_from_the_checkpoint_without_moving_it(
    project: Project, capture: CaptureServer
):
    assert project.run("--models", "events").exit_code == 0
    project.add_rows("events", rows_for("events", 410)[400:])
    dry_dir = project.root / "dry"

    assert (
        project.run("--dry-run", "--dry-run-dir", str(dry_dir), "--models", "events").exit_code == 0
    )

    bodies = [orjson.loads(path.read_bytes()) for path in dry_dir.iterdir()]
    assert sum(len(body["batch"]) for body in bodies) == 10
    state = project.query(
        "select rows_delivered from main.posthog_load_state where model = 'events'"
    )
    assert state == [(400,)]


def _recent_rows(count: int) -> list[Row]:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return [
        Row.valid("events", 1000 + index, now - dt.timedelta(hours=47 - index))
        for index in range(count)
    ]


def test_recent_events_are_held_by_default_and_sent_by_a_later_run(
    project: Project, capture: CaptureServer
):
    recent = _recent_rows(5)
    project.add_rows("events", recent)
    report_path = project.root / "report.json"

    result = project.run("--models", "events", "--report", str(report_path))

    assert result.exit_code == 0, result.output
    assert "5 events newer than" in result.stdout
    assert set(capture.uuids()) == set(project.uuids("events")) - {row.uuid for row in recent}
    events = orjson.loads(report_path.read_bytes())["models"][0]
    assert (events["held"], events["sent"], events["sent_live"]) == (5, 400, 0)

    capture.reset()
    live = project.run("--models", "events", "--recent", "live")

    assert live.exit_code == 0
    assert sorted(capture.uuids()) == sorted(row.uuid for row in recent)
    assert not any(event.historical_migration for event in capture.events)


def test_recent_live_sends_old_and_recent_events_in_separate_lanes(
    project: Project, capture: CaptureServer
):
    recent = _recent_rows(5)
    project.add_rows("events", recent)
    report_path = project.root / "report.json"

    result = project.run("--models", "events", "--recent", "live", "--report", str(report_path))

    assert result.exit_code == 0
    flags = {event.uuid: event.historical_migration for event in capture.events}
    assert flags == {
        uuid: uuid not in {row.uuid for row in recent} for uuid in project.uuids("events")
    }
    by_request: dict[int, set[bool]] = {}
    for event in capture.events:
        by_request.setdefault(event.request_id, set()).add(event.historical_migration)
    assert all(len(lanes) == 1 for lanes in by_request.values())
    events = orjson.loads(report_path.read_bytes())["models"][0]
    assert (events["held"], events["sent"], events["sent_live"]) == (0, 405, 5)


@pytest.mark.parametrize("mode", ["real", "dry-run", "token-refused"])
def test_the_token_never_appears_in_output_reports_or_files(
    project: Project, capture: CaptureServer, mode: str
):
    report_path = project.root / "report.json"
    args = ["--report", str(report_path)]
    if mode == "dry-run":
        args += ["--dry-run"]
    if mode == "token-refused":
        capture.tokens = {"phc_someone_else"}

    result = project.run(*args)

    assert result.exit_code == {"real": 0, "dry-run": 0, "token-refused": 3}[mode], result.output
    assert TOKEN not in result.stdout + result.stderr
    written = [report_path, *project.root.rglob("*.json"), *project.root.rglob("*.jsonl")]
    assert all(TOKEN.encode() not in path.read_bytes() for path in written if path.is_file())


def test_progress_is_plain_log_lines_when_not_a_terminal(project: Project):
    result = project.run()

    assert "events: 400 rows to load" in result.stdout
    assert "\x1b[" not in result.stdout
