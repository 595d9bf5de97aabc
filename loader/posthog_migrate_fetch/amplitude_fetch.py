"""Download an Amplitude project's history from the Export API into a folder dbt reads as `amplitude_export_path`.

Oldest range first, one request at a time (one UTC day, or one hour, per request). A range over Amplitude's size
limit (400), or timing out on its volume (504), is split in halves down to single hours; other failures are retried
with backoff. Each range is recorded in the ledger only once its files are all in place, so a re-run fetches only
what is missing and a reader never sees a half-written file.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from posthog_loader.retry import Failure, RetriesExhausted, RetryPolicy, call
from posthog_migrate_fetch.amplitude_api import Answer, ExportApi
from posthog_migrate_fetch.archive import DamagedArchiveError, remove_partials, unpack
from posthog_migrate_fetch.errors import ConfigError, RangeTooLargeError, SourceUnavailableError
from posthog_migrate_fetch.hours import HOUR, Granularity, HourRange, missing_ranges
from posthog_migrate_fetch.ledger import WORK_FOLDER, Ledger, RangeRecord, folder_lock

SOURCE = "amplitude-export-api"
# Backoff doubles from 2 s up to 2 min: a busy Export API gets room, a scheduled job does not stall for hours.
DEFAULT_RETRY = RetryPolicy(max_retries=6, base_delay=2.0, max_delay=120.0)
# Amplitude makes an hour's uploads exportable about two hours after the hour ends, so three after it starts.
EXPORT_DELAY = dt.timedelta(hours=3)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class FetchSettings:
    folder: Path
    wanted: HourRange
    granularity: Granularity = Granularity.day
    retry: RetryPolicy = DEFAULT_RETRY
    now: Callable[[], dt.datetime] = utc_now
    sleep: Callable[[float], None] = time.sleep


class Reporter(Protocol):
    def planned(self, ranges: list[HourRange]) -> None: ...

    def started(self, span: HourRange) -> None: ...

    def received(self, size: int) -> None: ...

    def finished(self, record: RangeRecord) -> None: ...

    def note(self, message: str) -> None: ...


@dataclass
class FetchSummary:
    requested_hours: int = 0
    already_complete_hours: int = 0
    # Hours Amplitude does not export yet, and when the last of them will be.
    not_yet_exportable_hours: int = 0
    exportable_from: dt.datetime | None = None
    ranges_with_data: int = 0
    ranges_without_data: int = 0
    splits: int = 0
    retries: int = 0
    files: int = 0
    bytes: int = 0
    records: list[RangeRecord] = field(default_factory=list)


class AmplitudeFetch:
    def __init__(self, settings: FetchSettings, api: ExportApi, reporter: Reporter) -> None:
        self.settings = settings
        self.api = api
        self.reporter = reporter
        self.summary = FetchSummary(requested_hours=settings.wanted.hours)
        self._rng = random.Random()
        self._work = settings.folder / WORK_FOLDER

    def run(self) -> FetchSummary:
        folder = self.settings.folder
        folder.mkdir(parents=True, exist_ok=True)
        with folder_lock(folder):
            ledger = Ledger.open(folder, SOURCE, self.api.endpoint)
            remove_partials(folder)
            for leftover in self._work.glob("*.zip.part"):
                leftover.unlink()
            exportable = self._exportable_part()
            covered = [record.span for record in ledger.complete_ranges()]
            pending = (
                missing_ranges(exportable, covered, self.settings.granularity) if exportable else []
            )
            if exportable:
                self.summary.already_complete_hours = exportable.hours - sum(
                    span.hours for span in pending
                )
            self.reporter.planned(pending)
            queue = list(reversed(pending))
            while queue:
                span = queue.pop()
                record_or_halves = self._fetch(span, ledger)
                if isinstance(record_or_halves, tuple):
                    queue.extend(reversed(record_or_halves))
                    continue
                self._count(record_or_halves)
                self.reporter.finished(record_or_halves)
        return self.summary

    def _exportable_part(self) -> HourRange | None:
        """The wanted hours Amplitude exports already; the rest are left for a later run."""
        wanted = self.settings.wanted
        last_exportable = (
            self.settings.now().replace(minute=0, second=0, microsecond=0) - EXPORT_DELAY
        )
        if wanted.last <= last_exportable:
            return wanted
        first_pending = max(wanted.first, last_exportable + HOUR)
        self.summary.not_yet_exportable_hours = HourRange(first_pending, wanted.last).hours
        self.summary.exportable_from = wanted.last + EXPORT_DELAY
        if wanted.first > last_exportable:
            return None
        return HourRange(wanted.first, last_exportable)

    def _fetch(self, span: HourRange, ledger: Ledger) -> RangeRecord | tuple[HourRange, HourRange]:
        self.reporter.started(span)
        archive = self._work / f"{span.key()}.zip.part"
        try:
            return call(
                lambda: self._attempt(span, ledger, archive),
                self.settings.retry,
                sleep=self.settings.sleep,
                rng=self._rng,
                on_retry=lambda message: self._note_retry(span, message),
            )
        except RetriesExhausted as exc:
            raise SourceUnavailableError(
                f"{span.label()}: {exc.failure.message} after {exc.retries + 1} attempts. Everything "
                "fetched so far is kept; re-run the same command to resume."
            ) from exc
        finally:
            archive.unlink(missing_ok=True)

    def _attempt(
        self, span: HourRange, ledger: Ledger, archive: Path
    ) -> RangeRecord | tuple[HourRange, HourRange] | Failure:
        outcome = self.api.export(span, archive, self.reporter.received)
        if outcome.answer is Answer.archive:
            try:
                unpacked = unpack(
                    archive, self.settings.folder, lambda ids: self._check_project(ledger, ids)
                )
            except DamagedArchiveError as exc:
                return Failure(f"damaged archive: {exc}")
            record = RangeRecord(span, "files", unpacked.files, _stamp(self.settings.now()))
            ledger.add(record, unpacked.project_ids)
            return record
        if outcome.answer is Answer.no_data:
            record = RangeRecord(span, "no_data", (), _stamp(self.settings.now()))
            ledger.add(record, set())
            return record
        too_large = outcome.answer is Answer.too_large or outcome.status == 504
        if too_large and span.hours > 1:
            self.summary.splits += 1
            halves = span.halves()
            self.reporter.note(
                f"{span.label()}: {outcome.reason}; asking for {halves[0].label()} and "
                f"{halves[1].label()} separately"
            )
            return halves
        if outcome.answer is Answer.too_large:
            raise RangeTooLargeError(
                f"Hour {span.label()} alone is over the Export API's 4 GB limit: export it with "
                "Amplitude's Amazon S3 export and point amplitude_export_path at it (README, "
                "'Amplitude'). Every other range is kept; re-run with --start after it."
            )
        return Failure(outcome.reason, outcome.retry_after)

    def _note_retry(self, span: HourRange, message: str) -> None:
        self.summary.retries += 1
        self.reporter.note(f"{span.label()}: {message}")

    def _check_project(self, ledger: Ledger, project_ids: set[str]) -> None:
        if ledger.project_ids and project_ids and not project_ids <= ledger.project_ids:
            raise ConfigError(
                f"{self.settings.folder} holds Amplitude project {', '.join(sorted(ledger.project_ids))}, "
                f"but these keys export project {', '.join(sorted(project_ids))}: use one folder per project."
            )

    def _count(self, record: RangeRecord) -> None:
        self.summary.records.append(record)
        if record.outcome == "files":
            self.summary.ranges_with_data += 1
            self.summary.files += len(record.files)
            self.summary.bytes += sum(f.bytes for f in record.files)
        else:
            self.summary.ranges_without_data += 1


def _stamp(now: dt.datetime) -> str:
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")
