"""Bad rows or a broken endpoint: a refusal is about a row only when PostHog accepts its neighbours.
An endpoint refusing everything (a proxy, http:// to an HTTPS port, an outage) stops the run with
exit 4 and quarantines nothing; the next run, against a working PostHog, delivers everything, and
verify never calls an empty PostHog a match."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest

from loader.conftest import OLD, Project, Row, payload_for, rows_for
from posthog_loader.refusals import BROKEN_AFTER
from support.fake_posthog import CaptureServer, Fault


def _quarantine(project: Project) -> list[tuple]:
    return project.query("select uuid, reason from main.posthog_load_quarantine order by uuid")


def _break(project: Project, indexes: range | list[int]) -> set[str]:
    """Make these events' payloads something only PostHog refuses (an empty event name)."""
    rows = project.rows["events"]
    for index in indexes:
        payload = orjson.loads(rows[index].payload)
        payload["event"] = ""
        rows[index].payload = orjson.dumps(payload).decode()
    project.set_rows("events", rows)
    return {rows[index].uuid for index in indexes}


def test_an_endpoint_refusing_everything_quarantines_nothing_and_exits_4(
    project: Project, capture: CaptureServer
):
    capture.fault_hook = lambda _index: Fault.respond(400)
    report_path = project.root / "report.json"

    failed = project.run("--models", "events", "--report", str(report_path))

    assert failed.exit_code == 4, failed.output
    assert "the endpoint is failing, not the rows" in failed.stderr
    assert "Nothing was quarantined" in failed.stderr
    assert _quarantine(project) == []
    report = orjson.loads(report_path.read_bytes())
    assert report["totals"]["quarantined"] == 0
    # Stopped after a handful of single events, not 2 requests per row.
    assert len(capture.requests) < 60

    capture.fault_hook = None
    resumed = project.run("--models", "events")

    assert resumed.exit_code == 0, resumed.output
    assert set(capture.uuids()) == set(project.uuids("events"))
    assert project.verify().exit_code == 0


def test_an_outage_answering_400_mid_run_stops_and_the_next_run_resumes(
    project: Project, capture: CaptureServer
):
    # Three batches go through, then every request (the endpoint test included) gets 400.
    capture.fault_hook = lambda index: Fault.respond(400) if index >= 3 else None

    failed = project.run("--models", "events", "--concurrency", "1")

    assert failed.exit_code == 4, failed.output
    assert "an event it accepted earlier in this run was refused too" in failed.stderr
    assert _quarantine(project) == []
    assert 0 < len(set(capture.uuids())) < 400

    capture.fault_hook = None
    assert project.run("--models", "events").exit_code == 0
    assert set(capture.uuids()) == set(project.uuids("events"))
    assert len(capture.deduplicated()) == 400


def test_a_run_of_bad_rows_is_quarantined_once_a_good_event_is_accepted_again(
    project: Project, capture: CaptureServer
):
    # More bad rows in a row than the streak allows: the endpoint is tested, passes, and the rows
    # are quarantined for themselves.
    bad = _break(project, range(100, 100 + BROKEN_AFTER + 2))

    result = project.run("--models", "events", "--concurrency", "1")

    assert result.exit_code == 1, result.output
    assert {uuid for uuid, _ in _quarantine(project)} == bad
    assert set(capture.uuids()) == set(project.uuids("events")) - bad
    # The endpoint test re-sent an event PostHog already had: it collapses.
    assert len(capture.deduplicated()) == 400 - len(bad)


def test_a_batch_made_only_of_bad_rows_is_quarantined_when_its_neighbours_pass(
    project: Project, capture: CaptureServer
):
    bad = _break(project, range(10, 15))

    result = project.run("--models", "events", "--batch-events", "5", "--concurrency", "1")

    assert result.exit_code == 1, result.output
    assert {uuid for uuid, _ in _quarantine(project)} == bad
    assert {reason for _, reason in _quarantine(project)} == {"rejected_by_posthog"}


def test_a_stray_400_on_a_single_event_is_asked_again_before_blaming_the_row(
    empty_project: Project, capture: CaptureServer
):
    project = empty_project
    project.set_rows("events", [Row.valid("events", 0, OLD)])
    capture.inject(Fault.respond(400))

    result = project.run("--models", "events")

    assert result.exit_code == 0, result.output
    assert [request.status for request in capture.requests] == [400, 200]
    assert _quarantine(project) == []


def test_verify_never_passes_when_posthog_holds_none(project: Project, capture: CaptureServer):
    capture.drop_fraction = 1.0  # over quota: 200 for everything, nothing kept
    assert project.run("--models", "events").exit_code == 0

    result = project.verify("--tolerance", "1000000")

    assert result.exit_code == 6, result.output
    assert "PostHog holds none of the expected events" in result.stdout


def test_verify_fails_when_every_event_is_in_the_quarantine(
    empty_project: Project, capture: CaptureServer
):
    project = empty_project
    rows = [Row.valid("events", index, OLD + dt.timedelta(minutes=index)) for index in range(3)]
    for row in rows:
        row.distinct_id = ""  # quarantined locally
    project.set_rows("events", rows)
    load = project.run("--models", "events")
    assert load.exit_code == 1, load.output

    result = project.verify()

    assert result.exit_code == 6, result.output
    assert "every one of them is in the loader's quarantine" in result.stdout


def test_rows_posthog_refused_are_still_expected_by_verify(
    project: Project, capture: CaptureServer
):
    bad = _break(project, [42])
    assert project.run("--models", "events").exit_code == 1

    result = project.verify("--report", str(project.root / "verify.json"))

    assert result.exit_code == 6, result.output
    assert "--retry-quarantined" in result.stdout
    report = orjson.loads((project.root / "verify.json").read_bytes())
    assert report["refused_by_posthog"] == len(bad)
    assert report["totals"]["difference"] == -1


@pytest.mark.parametrize("state", ["warehouse", "file"])
def test_rows_posthog_refused_are_sent_again_on_request(
    empty_project: Project, capture: CaptureServer, state: str
):
    project = empty_project
    state_args = ["--state-file", str(project.root / "state.json")] if state == "file" else []
    # An hour apart: the early rows sit far before the look-back window of later runs.
    rows = rows_for("events", 120, step=dt.timedelta(hours=1))
    big, bad, invalid = rows[5], rows[42], rows[60]
    big.payload = payload_for(big.uuid, big.event, big.distinct_id, big.timestamp, blob="x" * 3000)
    broken = orjson.loads(bad.payload)
    broken["event"] = ""
    bad.payload = orjson.dumps(broken).decode()
    invalid.distinct_id = ""  # caught locally: never retried
    project.set_rows("events", rows)
    capture.event_size_limit = 2000  # a deployment with a stricter limit, raised later

    assert project.run("--models", "events", *state_args).exit_code == 1
    assert project.verify(*state_args).exit_code == 6  # the refused rows are missing
    capture.event_size_limit = 1_000_000
    capture.reset()
    report_path = project.root / "report.json"

    again = project.run(
        "--models", "events", "--retry-quarantined", "--report", str(report_path), *state_args
    )

    assert again.exit_code == 1, again.output  # the bad row is refused again
    assert "sent again (--retry-quarantined)" in again.stdout
    assert big.uuid in capture.uuids()
    assert invalid.uuid not in capture.uuids()
    model = orjson.loads(report_path.read_bytes())["models"][0]
    assert model["retried_quarantined"] == 2
    assert model["quarantined_by_reason"] == {"rejected_by_posthog": 1}
    assert model["delivered_total"] == 118
    assert model["quarantined_total"] == 2
    quarantined = _quarantined_uuids(project, state)
    assert quarantined == sorted([bad.uuid, invalid.uuid])

    capture.reset()
    assert project.run("--models", "events", *state_args).exit_code == 0
    assert capture.requests == []  # nothing is sent twice
    assert project.verify(*state_args).exit_code == 6  # the bad row still is missing


def _quarantined_uuids(project: Project, state: str) -> list[str]:
    if state == "file":
        lines = (project.root / "state.quarantine.jsonl").read_bytes().splitlines()
        return sorted(orjson.loads(line)["uuid"] for line in lines)
    return sorted(
        uuid for (uuid,) in project.query("select uuid from main.posthog_load_quarantine")
    )
