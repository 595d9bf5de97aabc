"""`posthog-migrate-fetch amplitude` against a local Export API that answers as Amplitude documents it."""

from __future__ import annotations

import datetime as dt
import zipfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from posthog_loader.retry import RetryPolicy
from posthog_migrate_fetch.amplitude_api import Credentials, ExportApi
from posthog_migrate_fetch.amplitude_fetch import AmplitudeFetch, FetchSettings
from posthog_migrate_fetch.cli import app
from posthog_migrate_fetch.errors import RangeTooLargeError, SourceUnavailableError
from posthog_migrate_fetch.hours import Granularity, HourRange, missing_ranges
from posthog_migrate_fetch.ledger import WORK_FOLDER, RangeRecord
from posthog_migrate_sample.amplitude import AmplitudeSampleSpec, generate_amplitude_sample
from support.amplitude_export_server import AmplitudeExportServer, Fault

API_KEY = "amp_api_key_0f3a"
SECRET_KEY = "amp_secret_key_d41d8cd98f00b204"
# The sample's uploads fall on 2026-06-24 .. 2026-07-02; the fetches ask for a day more on each side.
FIRST_DAY, LAST_DAY = date(2026, 6, 23), date(2026, 7, 3)
DAYS = (LAST_DAY - FIRST_DAY).days + 1


@pytest.fixture(scope="module")
def sample_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    archive = tmp_path_factory.mktemp("amplitude_sample") / "export.zip"
    generate_amplitude_sample(AmplitudeSampleSpec(events=600, days=6), archive)
    return archive


@pytest.fixture
def server(sample_zip: Path) -> Iterator[AmplitudeExportServer]:
    backend = AmplitudeExportServer(API_KEY, SECRET_KEY)
    backend.add_archive(sample_zip)
    with backend.running():
        yield backend


@pytest.fixture(autouse=True)
def amplitude_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AMPLITUDE_API_KEY", API_KEY)
    monkeypatch.setenv("AMPLITUDE_SECRET_KEY", SECRET_KEY)


def fetch_cli(
    server: AmplitudeExportServer, folder: Path, *extra: str, start: str = f"{FIRST_DAY}"
):
    arguments = ["amplitude", "--start", start, "--end", f"{LAST_DAY}", "--to", str(folder)]
    return CliRunner().invoke(app, [*arguments, "--endpoint", server.endpoint, *extra])


def data_files(folder: Path) -> dict[str, bytes]:
    """What a reader of the folder sees: every *.json.gz file, as amplitude_export_path globs them."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*.json.gz")}


def zip_members(archive: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(archive) as zipped:
        return {name: zipped.read(name) for name in zipped.namelist()}


def run_fetch(
    server: AmplitudeExportServer, folder: Path, **settings
) -> tuple[AmplitudeFetch, list]:
    sleeps: list[float] = []
    wanted = HourRange(dt.datetime(2026, 6, 23), dt.datetime(2026, 7, 3, 23))
    fetch = AmplitudeFetch(
        FetchSettings(folder=folder, wanted=wanted, sleep=sleeps.append, **settings),
        ExportApi(server.endpoint, Credentials(API_KEY, SECRET_KEY), timeout=30),
        _SilentReporter(),
    )
    return fetch, sleeps


class _SilentReporter:
    def __init__(self) -> None:
        self.notes: list[str] = []

    def planned(self, ranges: list[HourRange]) -> None:
        pass

    def started(self, span: HourRange) -> None:
        pass

    def received(self, size: int) -> None:
        pass

    def finished(self, record: RangeRecord) -> None:
        pass

    def note(self, message: str) -> None:
        self.notes.append(message)


def test_one_request_per_day_oldest_first_and_the_folder_holds_the_export(
    server: AmplitudeExportServer, sample_zip: Path, tmp_path: Path
) -> None:
    result = fetch_cli(server, tmp_path / "exports")
    assert result.exit_code == 0, result.output
    assert data_files(tmp_path / "exports") == zip_members(sample_zip)
    days = [(r.start, r.end) for r in server.requests]
    assert days == [
        (f"{day:%Y%m%d}T00", f"{day:%Y%m%d}T23")
        for day in (FIRST_DAY + dt.timedelta(days=n) for n in range(DAYS))
    ]
    # the days around the sample have no data: recorded (404), not an error
    ledger = orjson.loads((tmp_path / "exports" / WORK_FOLDER / "ledger.json").read_bytes())
    outcomes = {r["first"][:10]: r["outcome"] for r in ledger["ranges"]}
    assert outcomes.pop(f"{FIRST_DAY}") == outcomes.pop(f"{LAST_DAY}") == "no_data"
    assert set(outcomes.values()) == {"files"} and len(outcomes) == DAYS - 2
    assert ledger["project_ids"] == ["609539"]
    assert "amplitude_export_path" in result.output


def test_a_rerun_fetches_only_missing_ranges_and_replaces_lost_files(
    server: AmplitudeExportServer, sample_zip: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "exports"
    assert fetch_cli(server, folder).exit_code == 0
    server.requests.clear()
    assert fetch_cli(server, folder).exit_code == 0
    assert server.requests == [], "everything was complete"
    lost = sorted(folder.rglob("*2026-06-27_*.json.gz"))[0]
    lost.unlink()
    assert fetch_cli(server, folder).exit_code == 0
    assert [(r.start, r.end) for r in server.requests] == [("20260627T00", "20260627T23")]
    assert data_files(folder) == zip_members(sample_zip)


def test_a_failing_source_stops_with_exit_4_and_the_rerun_resumes(
    server: AmplitudeExportServer, sample_zip: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "exports"
    # days 1-4 answer; the fifth (2026-06-27) keeps failing with 500 past --max-retries 1
    server.inject(*[Fault()] * 4, Fault(500), Fault(500, retry_after="0"))
    result = fetch_cli(server, folder, "--max-retries", "1")
    assert result.exit_code == 4, result.output
    assert "re-run" in result.output and SECRET_KEY not in result.output
    assert len(server.requests) == 6
    assert set(data_files(folder)) < set(zip_members(sample_zip))
    server.requests.clear()
    assert fetch_cli(server, folder).exit_code == 0
    assert server.requests[0].start == "20260627T00", "resumes at the failed day"
    assert len(server.requests) == DAYS - 4
    assert data_files(folder) == zip_members(sample_zip)


def test_a_range_over_the_size_limit_is_split_down_to_hours(
    server: AmplitudeExportServer, sample_zip: Path, tmp_path: Path
) -> None:
    busiest_hour = max(sum(len(c) for _, c in files) for files in server.files.values())
    server.size_limit = busiest_hour  # every day is too large, every hour fits
    fetch, _ = run_fetch(server, tmp_path / "exports")
    summary = fetch.run()
    assert data_files(tmp_path / "exports") == zip_members(sample_zip)
    assert summary.splits > 6
    assert all(r.status in (200, 400, 404) for r in server.requests)
    refused = {(r.start, r.end) for r in server.requests if r.status == 400}
    assert ("20260625T00", "20260625T23") in refused
    assert ("20260625T00", "20260625T11") in {(r.start, r.end) for r in server.requests}
    # nothing fetched twice: the answered ranges never overlap
    answered = [
        HourRange(
            dt.datetime.strptime(r.start, "%Y%m%dT%H"), dt.datetime.strptime(r.end, "%Y%m%dT%H")
        )
        for r in server.requests
        if r.status != 400
    ]
    hours = [hour for span in answered for hour in span.each_hour()]
    assert len(hours) == len(set(hours)) == DAYS * 24


def test_an_hour_over_the_limit_stops_with_exit_5_and_names_the_s3_export(
    server: AmplitudeExportServer, tmp_path: Path
) -> None:
    server.size_limit = 1
    result = fetch_cli(server, tmp_path / "exports", start="2026-06-25")
    assert result.exit_code == 5, result.output
    assert "S3" in result.output
    fetch, _ = run_fetch(server, tmp_path / "again")
    with pytest.raises(RangeTooLargeError):
        fetch.run()


def test_504_splits_a_range_and_429_5xx_and_cut_answers_are_retried_with_backoff(
    server: AmplitudeExportServer, sample_zip: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "exports"
    server.inject(
        Fault(),  # 2026-06-23: 404
        Fault(504),  # 2026-06-24: too slow as a day -> two halves
        Fault(429, retry_after="7"),  # first half: rate limited, retried after Retry-After
        Fault(truncate=True),  # ... then an answer cut in the middle: retried
        Fault(503),  # ... then unavailable once: retried
    )
    fetch, sleeps = run_fetch(server, folder, retry=RetryPolicy(6, base_delay=0.01, max_delay=0.05))
    summary = fetch.run()
    assert data_files(folder) == zip_members(sample_zip)
    assert not list(folder.rglob("*.partial")) and not list((folder / WORK_FOLDER).glob("*.part"))
    assert summary.splits == 1 and summary.retries == 3
    assert sleeps[0] == 7.0, "Retry-After is honoured"
    assert max(sleeps[1:]) <= 0.05
    asked = [(r.start, r.end, r.status) for r in server.requests[:7]]
    assert asked == [
        ("20260623T00", "20260623T23", 404),
        ("20260624T00", "20260624T23", 504),
        ("20260624T00", "20260624T11", 429),
        ("20260624T00", "20260624T11", 200),  # cut off after half its bytes
        ("20260624T00", "20260624T11", 503),
        ("20260624T00", "20260624T11", 200),
        ("20260624T12", "20260624T23", 200),
    ]


def test_retries_exhausted_raise_and_keep_what_was_fetched(
    server: AmplitudeExportServer, tmp_path: Path
) -> None:
    server.inject(*[Fault(502)] * 3)
    fetch, sleeps = run_fetch(server, tmp_path / "exports", retry=RetryPolicy(2, 0.01, 0.01))
    with pytest.raises(SourceUnavailableError, match="after 3 attempts"):
        fetch.run()
    assert len(sleeps) == 2


def test_wrong_keys_stop_with_exit_3_without_showing_them(
    server: AmplitudeExportServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AMPLITUDE_SECRET_KEY", "not-the-secret-9c2f")
    result = fetch_cli(server, tmp_path / "exports")
    assert result.exit_code == 3
    assert "AMPLITUDE_SECRET_KEY" in result.output and "not-the-secret-9c2f" not in result.output
    assert len(server.requests) == 1


def test_missing_keys_and_bad_dates_are_configuration_errors(
    server: AmplitudeExportServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = CliRunner().invoke(
        app, ["amplitude", "--start", "2026-13-01", "--end", "2026-07-01", "--to", str(tmp_path)]
    )
    assert result.exit_code == 2 and "--start" in result.output
    result = CliRunner().invoke(
        app, ["amplitude", "--start", "2026-07-02", "--end", "2026-07-01", "--to", str(tmp_path)]
    )
    assert result.exit_code == 2 and "after --end" in result.output
    monkeypatch.delenv("AMPLITUDE_API_KEY")
    result = fetch_cli(server, tmp_path / "exports")
    assert result.exit_code == 2 and "AMPLITUDE_API_KEY" in result.output
    assert server.requests == []


def test_hours_amplitude_does_not_export_yet_are_left_for_the_next_run(
    server: AmplitudeExportServer, tmp_path: Path
) -> None:
    now = dt.datetime(2026, 7, 3, 14, 25)  # uploads of 11:00-12:00 are exportable from 14:00
    fetch, _ = run_fetch(server, tmp_path / "exports", now=lambda: now)
    summary = fetch.run()
    assert (server.requests[-1].start, server.requests[-1].end) == ("20260703T00", "20260703T11")
    assert summary.not_yet_exportable_hours == 12
    assert summary.exportable_from == dt.datetime(2026, 7, 4, 2)
    server.requests.clear()
    fetch, _ = run_fetch(server, tmp_path / "exports", now=lambda: dt.datetime(2026, 7, 5))
    fetch.run()
    assert [(r.start, r.end) for r in server.requests] == [("20260703T12", "20260703T23")]


def test_a_folder_of_another_project_is_refused(
    server: AmplitudeExportServer, tmp_path: Path
) -> None:
    folder = tmp_path / "exports"
    assert fetch_cli(server, folder, start="2026-06-25").exit_code == 0
    other = {
        hour: [(name.replace("609539", "700001"), content) for name, content in files]
        for hour, files in server.files.items()
    }
    server.files = other
    (next(folder.rglob("*2026-06-26_*.json.gz"))).unlink()
    result = fetch_cli(server, folder, start="2026-06-25")
    assert result.exit_code == 2 and "one folder per project" in result.output
    assert not list(folder.glob("700001"))


def test_missing_ranges_cut_at_days_and_skip_what_is_covered() -> None:
    hour = dt.datetime(2026, 6, 1)
    wanted = HourRange(hour + dt.timedelta(hours=20), hour + dt.timedelta(days=2, hours=3))
    covered = [
        HourRange(hour + dt.timedelta(days=1, hours=5), hour + dt.timedelta(days=1, hours=9))
    ]
    labels = [span.label() for span in missing_ranges(wanted, covered, Granularity.day)]
    assert labels == [
        "2026-06-01 20:00..2026-06-01 23:59",
        "2026-06-02 00:00..2026-06-02 04:59",
        "2026-06-02 10:00..2026-06-02 23:59",
        "2026-06-03 00:00..2026-06-03 03:59",
    ]
    assert len(missing_ranges(wanted, covered, Granularity.hour)) == wanted.hours - 5
