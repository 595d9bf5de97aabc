"""Faults: retries, splitting, bisection, refused tokens, exhausted retries and invalid rows."""

from __future__ import annotations

import datetime as dt

import orjson

from loader.conftest import OLD, Project, Row, make_uuid, payload_for
from support.fake_posthog import EVENT_SIZE_LIMIT, CaptureServer, Fault


def test_429_503_and_dropped_connections_are_retried_until_delivered(
    project: Project, capture: CaptureServer
):
    capture.inject(
        Fault.respond(429, retry_after=0), Fault.respond(503), Fault.dropped(), Fault.respond(500)
    )
    report_path = project.root / "report.json"

    result = project.run("--models", "events", "--report", str(report_path))

    assert result.exit_code == 0, result.output
    assert sorted(capture.uuids()) == sorted(project.uuids("events"))
    report = orjson.loads(report_path.read_bytes())
    assert report["totals"]["retried_requests"] == 4
    assert report["totals"]["sent"] == 400


def test_retry_after_is_a_floor_for_the_wait(project: Project, capture: CaptureServer):
    capture.inject(Fault.respond(429, retry_after=1))

    result = project.run("--models", "aliases", "--concurrency", "1")

    assert result.exit_code == 0, result.output
    first, retry = capture.requests[:2]
    assert first.status == 429
    assert retry.status == 200
    # --retry-max-delay caps the loader's own backoff at 0.05 s here; the server asked for 1 s.
    assert retry.arrived - first.answered >= 0.95


def test_read_timeouts_are_retried(project: Project, capture: CaptureServer):
    capture.inject(Fault.slow(2))

    result = project.run("--models", "aliases", "--request-timeout", "0.3")

    assert result.exit_code == 0, result.output
    assert sorted(set(capture.uuids())) == sorted(project.uuids("aliases"))


def test_413_splits_the_batch_in_half_until_it_fits(project: Project, capture: CaptureServer):
    capture.inject(Fault.respond(413), Fault.respond(413))

    result = project.run("--models", "aliases", "--concurrency", "1")

    assert result.exit_code == 0, result.output
    assert [request.status for request in capture.requests] == [413, 413, 200, 200, 200]
    assert [request.events for request in capture.requests[2:]] == [5, 5, 10]
    assert sorted(capture.uuids()) == sorted(project.uuids("aliases"))


def test_a_single_event_over_the_server_limit_is_quarantined_after_splitting(
    empty_project: Project, capture: CaptureServer
):
    project = empty_project
    rows = [Row.valid("events", index, OLD + dt.timedelta(minutes=index)) for index in range(8)]
    big = rows[5]
    big.payload = payload_for(big.uuid, big.event, big.distinct_id, big.timestamp, blob="x" * 3000)
    project.set_rows("events", rows)
    capture.event_size_limit = 2000  # a deployment with a stricter Kafka message cap

    result = project.run("--models", "events", "--report", str(project.root / "r.json"))

    assert result.exit_code == 1, result.output
    assert sorted(capture.uuids()) == sorted(row.uuid for row in rows if row is not big)
    report = orjson.loads((project.root / "r.json").read_bytes())["models"][0]
    assert report["quarantined_by_reason"] == {"too_large_for_posthog": 1}
    sample = report["quarantine_samples"][0]
    assert (sample["uuid"], sample["detail"]) == (big.uuid, "HTTP 413: event is over 2000 bytes")


def test_400_bisection_delivers_the_good_events_and_quarantines_exactly_the_bad(
    project: Project, capture: CaptureServer
):
    # Valid JSON objects with the right columns, but the payload itself breaks capture's contract:
    # only the server can tell, so only bisection can find them.
    bad = [17, 203, 204, 399]
    for index in bad:
        row = project.rows["events"][index]
        broken = orjson.loads(row.payload)
        broken["uuid"] = "not-a-uuid" if index != 203 else broken["uuid"]
        broken["event"] = "" if index == 203 else broken["event"]
        row.payload = orjson.dumps(broken).decode()
    project.set_rows("events", project.rows["events"])
    report_path = project.root / "report.json"

    result = project.run("--models", "events", "--report", str(report_path))

    assert result.exit_code == 1, result.output
    bad_uuids = {project.rows["events"][index].uuid for index in bad}
    assert sorted(capture.uuids()) == sorted(set(project.uuids("events")) - bad_uuids)
    quarantine = project.query(
        "select uuid, reason, detail from main.posthog_load_quarantine order by uuid"
    )
    assert {uuid for uuid, _, _ in quarantine} == bad_uuids
    assert {reason for _, reason, _ in quarantine} == {"rejected_by_posthog"}
    details = {uuid: detail for uuid, _, detail in quarantine}
    assert details[project.rows["events"][203].uuid] == "HTTP 400: missing event name"
    assert details[project.rows["events"][17].uuid].startswith(
        "HTTP 400: failed to decode request: invalid uuid"
    )
    report = orjson.loads(report_path.read_bytes())["models"][0]
    assert report["sent"] == 396
    assert report["quarantined_by_reason"] == {"rejected_by_posthog": 4}


def test_invalid_rows_are_quarantined_locally_before_sending(
    empty_project: Project, capture: CaptureServer
):
    project = empty_project
    rows = [Row.valid("events", index, OLD + dt.timedelta(minutes=index)) for index in range(12)]
    rows[1].event = ""
    rows[2].distinct_id = ""
    rows[3].uuid = "abc"
    rows[4].payload = "{not json"
    rows[5].payload = "[1, 2]"
    rows[6].payload = None
    rows[7].distinct_id = "x" * 201
    rows[8].payload = payload_for(
        make_uuid("events", 8), "big", "u", OLD, blob="x" * EVENT_SIZE_LIMIT
    )
    rows[9].uuid = None
    # Accepted by lenient parsers (DuckDB's json_valid among them), refused by PostHog's.
    rows[10].payload = rows[10].payload[:-1] + ', "score": NaN}'
    project.set_rows("events", rows)

    result = project.run("--models", "events", "--state-file", str(project.root / "state.json"))

    assert result.exit_code == 1, result.output
    assert sorted(capture.uuids()) == sorted(rows[index].uuid for index in (0, 11))
    lines = [
        orjson.loads(line)
        for line in (project.root / "state.quarantine.jsonl").read_bytes().splitlines()
    ]
    reasons = {
        line["uuid"] if line["uuid"] else f"row{index}": line["reason"]
        for index, line in enumerate(lines)
    }
    assert sorted(reasons.values()) == sorted(
        [
            "empty_event",
            "empty_distinct_id",
            "invalid_uuid",
            "invalid_payload",
            "invalid_payload",
            "invalid_payload",
            "distinct_id_too_long",
            "payload_too_large",
            "invalid_uuid",
            "invalid_payload",
        ]
    )
    assert "quarantined" in result.stdout
    # Quarantined rows stay behind the checkpoint: a second run neither resends nor re-quarantines.
    capture.reset()
    again = project.run("--models", "events", "--state-file", str(project.root / "state.json"))
    assert again.exit_code == 0
    assert capture.requests == []
    assert len((project.root / "state.quarantine.jsonl").read_bytes().splitlines()) == 10


def test_a_refused_token_stops_at_once_with_exit_code_3(project: Project, capture: CaptureServer):
    capture.fault_hook = lambda index: Fault.respond(401) if index >= 3 else None

    result = project.run("--concurrency", "1", "--report", str(project.root / "r.json"))

    assert result.exit_code == 3
    assert "refused the project token" in result.stderr
    assert [request.status for request in capture.requests] == [200, 200, 200, 401]
    report = orjson.loads((project.root / "r.json").read_bytes())
    assert report["exit_code"] == 3
    # aliases and persons fit in one request each; the events' second request was refused.
    assert [model["status"] for model in report["models"]] == ["complete", "complete", "failed"]
    assert report["models"][2]["sent"] == 50


def test_an_unknown_token_is_refused_with_403_and_nothing_more_is_sent(
    project: Project, capture: CaptureServer
):
    capture.tokens = {"phc_another_project"}

    result = project.run("--concurrency", "4")

    assert result.exit_code == 3
    statuses = [request.status for request in capture.requests]
    assert set(statuses) == {403}
    assert len(statuses) <= 4  # only the requests already in flight when the first 403 came back


def test_exhausted_retries_stop_cleanly_and_the_next_run_resumes(
    project: Project, capture: CaptureServer
):
    state = project.root / "state.json"
    # The 4th request and all its retries fail.
    capture.fault_hook = lambda index: Fault.respond(503) if index >= 3 else None

    failed = project.run(
        "--models", "events", "--concurrency", "1", "--max-retries", "2", "--state-file", str(state)
    )

    assert failed.exit_code == 4
    assert "re-run the same command to resume" in failed.stderr
    delivered_first = set(capture.uuids())
    # The first three requests: 50, 50 and the 29 left of the first UTC day.
    assert len(delivered_first) == 129
    checkpoint = orjson.loads(state.read_bytes())["checkpoints"]["events"]["all"]
    assert checkpoint["rows_delivered"] == 129

    capture.fault_hook = None
    capture.reset()
    resumed = project.run("--models", "events", "--state-file", str(state))

    assert resumed.exit_code == 0
    assert delivered_first.isdisjoint(capture.uuids())
    assert delivered_first | set(capture.uuids()) == set(project.uuids("events"))


def test_an_unreachable_host_is_exit_code_4_naming_the_host(project: Project):
    result = project.run("--max-retries", "1", env={"POSTHOG_HOST": "http://127.0.0.1:9"})

    assert result.exit_code == 4
    assert "http://127.0.0.1:9" in result.stderr
    assert "ConnectError" in result.stderr


def test_rate_budget_still_delivers_everything(project: Project, capture: CaptureServer):
    result = project.run("--models", "aliases", "--rate", "1000")

    assert result.exit_code == 0
    assert sorted(capture.uuids()) == sorted(project.uuids("aliases"))


def test_unreadable_success_answers_are_retried(project: Project, capture: CaptureServer):
    # PostHog kept the events both times; only the answers were lost on the way back.
    capture.inject(Fault.unreadable_success("bad_gzip"), Fault.unreadable_success("not_json"))
    report_path = project.root / "report.json"

    result = project.run("--models", "aliases", "--concurrency", "1", "--report", str(report_path))

    assert result.exit_code == 0, result.output
    assert set(capture.uuids()) == set(project.uuids("aliases"))
    assert len(capture.deduplicated()) == len(project.uuids("aliases"))
    assert orjson.loads(report_path.read_bytes())["totals"]["retried_requests"] == 2


def test_success_answers_that_stay_unreadable_are_exit_4_with_nothing_quarantined(
    project: Project, capture: CaptureServer
):
    capture.fault_hook = lambda index: Fault.unreadable_success("bad_gzip", after_store=False)
    state = project.root / "state.json"

    result = project.run("--models", "aliases", "--max-retries", "2", "--state-file", str(state))

    assert result.exit_code == 4, result.output
    assert "unreadable answer" in result.stderr
    assert not (project.root / "state.quarantine.jsonl").exists()
    capture.fault_hook = None
    assert project.run("--models", "aliases", "--state-file", str(state)).exit_code == 0
    assert set(capture.uuids()) == set(project.uuids("aliases"))


def test_rows_posthog_would_refuse_or_could_not_store_are_quarantined_before_sending(
    empty_project: Project, capture: CaptureServer
):
    project = empty_project
    rows = [Row.valid("events", index, OLD + dt.timedelta(minutes=index)) for index in range(8)]
    for index, number in ((1, "1e999"), (2, "-1E+400"), (3, "1" + "0" * 309), (7, "1e308")):
        rows[index].payload = rows[index].payload[:-1] + f', "big": {number}}}'
    rows[4].timestamp = dt.datetime(1969, 12, 31, 23, 59, 59)
    rows[5].timestamp = dt.datetime(1, 1, 1)
    rows[6].timestamp = dt.datetime(1970, 1, 1)  # the first storable instant
    project.set_rows("events", rows)

    result = project.run("--models", "events", "--state-file", str(project.root / "state.json"))

    assert result.exit_code == 1, result.output
    assert sorted(capture.uuids()) == sorted(rows[index].uuid for index in (0, 6, 7))
    assert {request.status for request in capture.requests} == {200}  # nothing left to refuse
    quarantined = {
        line["uuid"]: (line["reason"], line["detail"])
        for line in map(
            orjson.loads, (project.root / "state.quarantine.jsonl").read_bytes().splitlines()
        )
    }
    for index in (1, 2, 3):
        reason, detail = quarantined[rows[index].uuid]
        assert (reason, "out of range" in detail) == ("invalid_payload", True)
    for index in (4, 5):
        assert quarantined[rows[index].uuid][0] == "timestamp_out_of_range"
