"""`load-posthog verify`: posthog_events against PostHog's query API (the capture server answers it
from what it stored, deduplicated like PostHog's events table), per UTC day and event."""

from __future__ import annotations

import datetime as dt
import re
import socket
from pathlib import Path

import httpx
import orjson
import pytest
from rich.console import Console

from loader.conftest import OLD, PERSONAL_KEY, PROJECT_ID, TOKEN, Project, Row, payload_for
from posthog_loader.config import ApiKey
from posthog_loader.errors import ConfigError, ExitCode, PostHogUnavailableError
from posthog_loader.scrub import Scrubber
from posthog_loader.verify.counts import posthog_counts
from posthog_loader.verify.hogql import HogQLClient
from posthog_loader.verify.run import VerifyRun, default_until
from posthog_loader.verify.settings import (
    Tolerance,
    VerifySettings,
    normalize_api_host,
    parse_tolerance,
)
from support.fake_posthog import CaptureServer, QueryShape
from support.fake_posthog.query_api import ApiError
from support.fake_posthog.store import IngestionWarning


def _report(project: Project) -> dict:
    return orjson.loads((project.root / "verify.json").read_bytes())


def _verify(project: Project, *args: str, env: dict[str, str | None] | None = None):  # type: ignore[no-untyped-def]
    return project.verify("--report", str(project.root / "verify.json"), *args, env=env)


def test_counts_match_after_a_load(project: Project, capture: CaptureServer):
    assert project.run().exit_code == 0

    result = _verify(project)

    assert result.exit_code == 0, result.output
    assert "Every count matches" in result.stdout
    report = _report(project)
    assert report["totals"] == {
        "expected": 400,
        "posthog": 400,
        "posthog_stored": 400,
        "difference": 0,
    }
    assert report["since"] == OLD.date().isoformat()
    assert {row["event"] for row in report["rows"]} == {"event_0", "event_1", "event_2"}
    # Fresh counts, never a cache from before the load.
    assert all(query["refresh"] == "force_blocking" for query in capture.queries)


def test_a_quota_limited_project_answering_200_is_caught(project: Project, capture: CaptureServer):
    capture.drop_fraction = 0.1
    assert project.run().exit_code == 0  # every request got its 200

    result = _verify(project)

    assert result.exit_code == ExitCode.COUNTS_DIFFER == 6
    dropped_events = sum(1 for uuid in project.uuids("events") if capture.lost_to_quota(uuid))
    report = _report(project)
    assert report["totals"]["posthog"] == 400 - dropped_events > 0
    assert report["rows_over_tolerance"] > 0
    assert "billing limit" in result.stdout
    assert "Fewer in PostHog" in result.stdout and "More in PostHog" not in result.stdout
    # A tolerance wide enough lets it pass.
    assert _verify(project, "--tolerance", "50%").exit_code == 0


def test_re_sent_events_count_once_but_another_distinct_id_counts_twice(
    project: Project, capture: CaptureServer
):
    assert project.run().exit_code == 0
    assert project.run("--reset", "--models", "events").exit_code == 0  # same uuids again

    again = _verify(project)

    assert again.exit_code == 0, again.output
    assert "400 stored rows are re-sends PostHog has not merged yet" in again.stdout
    row = project.rows["events"][5]
    assert row.uuid and row.event and row.timestamp
    body = orjson.dumps(
        {
            "api_key": TOKEN,
            "historical_migration": True,
            "batch": [
                orjson.loads(payload_for(row.uuid, row.event, "someone_else", row.timestamp))
            ],
        }
    )
    assert httpx.post(f"{capture.url}/batch/", content=body).status_code == 200

    duplicated = _verify(project)

    assert duplicated.exit_code == 6
    assert "More in PostHog" in duplicated.stdout
    assert _report(project)["totals"]["difference"] == 1


def test_quarantined_and_recent_rows_are_not_expected(project: Project, capture: CaptureServer):
    bad = Row("0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b", "event_0", "", OLD, "{}")
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    recent = Row.valid("events", 999, now - dt.timedelta(hours=1))
    project.add_rows("events", [bad, recent])
    assert project.run().exit_code == 1  # the bad row is quarantined, the recent one held

    assert _verify(project).exit_code == 0
    # Asked about today, the held event is missing from PostHog.
    assert _verify(project, "--until", now.date().isoformat()).exit_code == 6


@pytest.mark.parametrize("state", ["warehouse", "file"])
def test_quarantine_is_read_from_where_the_load_kept_it(
    project: Project, capture: CaptureServer, state: str
):
    state_args = ["--state-file", str(project.root / "state.json")] if state == "file" else []
    project.add_rows("events", [Row("0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b", "", "d", OLD, "{}")])
    project.add_rows(
        "events", [Row("0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5c", "event_1", "", OLD, "{}")]
    )
    assert project.run(*state_args).exit_code == 1

    assert _verify(project, *state_args).exit_code == 0


def test_waits_for_ingestion_to_catch_up(project: Project, capture: CaptureServer):
    capture.ingestion_lag = 1.0
    assert project.run().exit_code == 0

    result = _verify(project, "--wait", "8s")  # asks again every second

    assert result.exit_code == 0, result.output
    assert "asking PostHog again" in result.stdout
    assert _report(project)["attempts"] >= 2


def test_without_wait_ingestion_lag_shows_as_missing(project: Project, capture: CaptureServer):
    capture.ingestion_lag = 60.0
    assert project.run().exit_code == 0

    result = _verify(project)

    assert result.exit_code == 6
    assert "Ingestion lag" in result.stdout
    assert _report(project)["attempts"] == 1


@pytest.mark.parametrize(
    ("env", "args", "code", "message"),
    [
        ({"POSTHOG_PERSONAL_API_KEY": None}, [], 2, "POSTHOG_PERSONAL_API_KEY is not set"),
        ({"POSTHOG_PERSONAL_API_KEY": TOKEN}, [], 2, "project API key (phc_...)"),
        ({"POSTHOG_PERSONAL_API_KEY": "phx_wrong"}, [], 3, "refused the personal API key"),
        ({"POSTHOG_PROJECT_ID": None}, [], 2, "POSTHOG_PROJECT_ID"),
        ({"POSTHOG_PROJECT_ID": "7"}, [], 2, "has no project 7"),
        ({}, ["--api-host", "https://eu.i.posthog.com"], 2, "https://eu.posthog.com"),
        ({}, ["--hogql-filter", "properties.plan = 'pro'"], 2, "PostHog rejected the count"),
        ({}, ["--tolerance", "lots"], 2, "--tolerance"),
        ({}, ["--since", "2024-03-03", "--until", "2024-03-01"], 2, "is after --until"),
    ],
)
@pytest.mark.usefixtures("capture")
def test_configuration_and_refusals_exit_with_their_code_and_never_show_keys(
    project: Project, env, args, code, message
):
    assert project.run().exit_code == 0

    result = _verify(project, *args, env=env)

    assert result.exit_code == code, result.output
    assert message in result.stderr
    written = (project.root / "verify.json").read_bytes()
    assert orjson.loads(written)["exit_code"] == code
    for secret in (PERSONAL_KEY, TOKEN, "phx_wrong"):
        assert secret not in result.stdout + result.stderr
        assert secret.encode() not in written


def test_an_unreachable_query_api_is_exit_4_after_retries(project: Project, monkeypatch):
    monkeypatch.setenv("FIXTURE_DUCKDB_PATH", str(project.db_path))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    settings = _settings(project, f"http://127.0.0.1:{closed_port}")
    sleeps: list[float] = []

    with pytest.raises(PostHogUnavailableError, match="unreachable"):
        VerifyRun(settings, Console(), Scrubber(), warn=print, sleep=sleeps.append).execute()

    assert len(sleeps) == 4  # retries, backing off


def _settings(project: Project, api_host: str) -> VerifySettings:
    return VerifySettings(
        project_dir=project.root,
        profiles_dir=None,
        target=None,
        state_schema=None,
        state_file=None,
        api_host=api_host,
        project_id=PROJECT_ID,
        personal_key=ApiKey(PERSONAL_KEY),
        since=None,
        until=None,
        tolerance=Tolerance(),
        hogql_filter=None,
        wait=dt.timedelta(0),
        warnings_since=dt.datetime(2026, 1, 1),
        request_timeout=5.0,
        report_path=None,
    )


def test_pages_of_results_add_up(project: Project, capture: CaptureServer):
    assert project.run().exit_code == 0
    client = HogQLClient(
        capture.url, PROJECT_ID, ApiKey(PERSONAL_KEY), timeout=5.0, scrub=Scrubber()
    )
    names = ["event_0", "event_1", "event_2"]
    until = OLD.date() + dt.timedelta(days=3)

    whole = posthog_counts(client, OLD.date(), until, names, None)
    paged = posthog_counts(client, OLD.date(), until, names, None, page_rows=2)

    assert paged == whole and sum(whole.kept.values()) == 400
    assert client.requests == 1 + 5  # 9 rows in pages of 2


@pytest.mark.parametrize(
    ("text", "tolerance"),
    [
        ("0", Tolerance()),
        ("5", Tolerance(5)),
        ("0.5%", Tolerance(0, 0.5)),
        ("5, 2%", Tolerance(5, 2.0)),
        ("2%,5", Tolerance(5, 2.0)),
    ],
)
def test_tolerances(text: str, tolerance: Tolerance):
    assert parse_tolerance(text) == tolerance
    assert parse_tolerance(str(tolerance)) == tolerance


@pytest.mark.parametrize("text", ["", "5%,6%", "1.5", "-1", "5,", "x%"])
def test_bad_tolerances(text: str):
    with pytest.raises(ConfigError, match="--tolerance"):
        parse_tolerance(text)


def test_the_larger_allowance_wins():
    tolerance = Tolerance(5, 1.0)
    assert tolerance.allowance(100) == 5
    assert tolerance.allowance(10_000) == 100


def test_api_hosts():
    assert normalize_api_host("https://us.posthog.com/") == "https://us.posthog.com"
    assert normalize_api_host("http://127.0.0.1:8000") == "http://127.0.0.1:8000"
    with pytest.raises(ConfigError, match=re.escape("https://us.posthog.com")):
        normalize_api_host("https://us.i.posthog.com")


def test_the_default_last_day_is_before_the_recent_cutoff():
    assert default_until(dt.datetime(2026, 11, 22, 13, 0)) == dt.date(2026, 11, 19)
    assert default_until(dt.datetime(2026, 11, 22, 0, 0)) == dt.date(2026, 11, 19)


def test_nothing_to_compare_is_not_a_failure(empty_project: Project, capture: CaptureServer):
    result = empty_project.verify()

    assert result.exit_code == 0, result.output
    assert "Nothing to compare" in result.stdout
    assert capture.queries == []


def test_report_path_parent_is_created(project: Project, tmp_path: Path):
    assert project.run().exit_code == 0
    path = tmp_path / "deep" / "verify.json"

    assert project.verify("--report", str(path)).exit_code == 0

    assert orjson.loads(path.read_bytes())["exit_code"] == 0


def test_ingestion_warnings_are_reported_by_type_in_one_more_query(
    project: Project, capture: CaptureServer
):
    assert project.run().exit_code == 0
    rows = project.rows["events"]
    for row in rows[:3]:
        capture.warn("invalid_event_timestamp", eventUuid=row.uuid, timestamp="nonsense")
    capture.warn(
        "cannot_merge_already_identified",
        source="plugin-server",
        sourcePersonDistinctId="user_1",
        targetPersonDistinctId="user_2",
        eventUuid=rows[5].uuid,
    )
    # Raised before the window verify is asked about: not this import's.
    capture.store.warn(
        IngestionWarning(
            "distinct_id_too_large", "capture", {}, dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
        )
    )

    result = _verify(project, "--warnings-since", "2d")

    assert result.exit_code == 0, result.output  # the counts match; the warnings are reported
    assert "4 ingestion warnings since" in result.stdout
    assert "invalid_event_timestamp" in result.stdout
    assert "cannot_merge_already_identified" in result.stdout
    assert "distinct_id_too_large" not in result.stdout
    warnings = _report(project)["ingestion_warnings"]
    assert warnings["total"] == 4
    assert [(w["type"], w["warnings"], w["events"]) for w in warnings["by_type"]] == [
        ("invalid_event_timestamp", 3, 3),
        ("cannot_merge_already_identified", 1, 1),
    ]
    assert warnings["by_type"][1]["meaning"].startswith("identity merge refused")
    # One count query (a single page) and one for the warnings: the query API is rate limited.
    assert len(capture.queries) == 2
    assert _report(project)["queries"] == 2


def test_a_refused_warnings_query_names_that_query_not_the_counts(
    project: Project, capture: CaptureServer
):
    def refuse_warnings(text: str) -> None:
        if "system.ingestion_warnings" in text:
            raise ApiError(400, "validation_error", "query_error", "Unknown table")

    capture.query_api.shapes.insert(0, QueryShape(refuse_warnings, lambda query, api: {}))
    assert project.run().exit_code == 0

    result = _verify(project)

    assert result.exit_code == 2, result.output
    assert "PostHog rejected the ingestion warnings query: Unknown table" in result.stderr
    assert "--hogql-filter" not in result.stderr


def test_no_warnings_says_so(project: Project, capture: CaptureServer):
    assert project.run().exit_code == 0

    result = _verify(project, "--warnings-since", "2026-01-01")

    assert result.exit_code == 0, result.output
    assert "No ingestion warnings since 2026-01-01 00:00 UTC" in result.stdout
    assert _report(project)["ingestion_warnings"] == {
        "since": "2026-01-01T00:00:00",
        "total": 0,
        "by_type": [],
    }
