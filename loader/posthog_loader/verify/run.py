"""`load-posthog verify`: proof that PostHog holds what posthog_events holds, per UTC day and event.

Expected: the rows of posthog_events, less the rows the loader quarantined (they are never sent).
Compared: the days before the recent cutoff (events younger than 48 h are held back by default).
PostHog's side counts each (uuid, distinct_id) once per day and event, which is what remains once
its deduplication merges have run; rows still waiting for a merge are reported, not counted.
"""

import contextlib
import datetime as dt
import time
from collections.abc import Callable

from rich.console import Console

from posthog_loader.config import HISTORICAL_MIN_AGE, MODEL_VIEWS
from posthog_loader.dbt import load_project_target, load_relations
from posthog_loader.errors import ExitCode
from posthog_loader.scrub import Scrubber
from posthog_loader.state import DayEventCounts, open_store
from posthog_loader.verify.counts import posthog_counts, warehouse_counts
from posthog_loader.verify.hogql import HogQLClient
from posthog_loader.verify.report import VerifyReport, compare
from posthog_loader.verify.settings import VerifySettings
from posthog_loader.verify.warnings import ingestion_warnings
from posthog_loader.warehouse import Warehouse, connect, relation_sql

# Between two questions to PostHog under --wait: a tenth of the wait, within these bounds (its
# query API allows about 120 queries an hour).
POLL_INTERVAL_BOUNDS = (1.0, 60.0)
# Only counts are read: DuckDB needs little memory for them.
_DUCKDB_MEMORY_LIMIT = "1GB"
_DAY = dt.timedelta(days=1)


def default_until(now: dt.datetime) -> dt.date:
    """The last whole UTC day before the recent cutoff: later events may still be held back."""
    return (now - HISTORICAL_MIN_AGE).date() - _DAY


class VerifyRun:
    def __init__(
        self,
        settings: VerifySettings,
        console: Console,
        scrub: Scrubber,
        *,
        warn: Callable[[str], None],
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._console = console
        self._scrub = scrub
        self._warn = warn
        self._sleep = sleep
        self._clock = clock
        shortest, longest = POLL_INTERVAL_BOUNDS
        self._poll_interval = min(longest, max(shortest, settings.wait.total_seconds() / 10))
        self.report: VerifyReport | None = None

    def execute(self) -> ExitCode:
        settings = self._settings
        project, target = load_project_target(
            settings.project_dir, settings.profiles_dir, settings.target
        )
        view = MODEL_VIEWS["events"]
        relation = load_relations(project, target, [view])[view]
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        until = settings.until or default_until(now)
        warehouse = connect(target, read_only=True, duckdb_memory_limit=_DUCKDB_MEMORY_LIMIT)
        with contextlib.closing(warehouse):
            name = relation_sql(relation, warehouse)
            self.report = report = VerifyReport(
                api_host=settings.api_host,
                project_id=settings.project_id,
                relation=name,
                tolerance=settings.tolerance,
                hogql_filter=settings.hogql_filter,
                started_at=now,
                since=settings.since,
                until=until,
            )
            contract, expected, refused = self._expected(warehouse, name, until + _DAY)
        if not contract:
            self._console.print(
                f"Nothing to compare: {name} has no events on or before {until} (UTC)"
                + (f" from {settings.since}." if settings.since else "."),
                soft_wrap=True,
            )
            return ExitCode.OK
        report.refused_by_posthog = refused.total()
        if not expected:
            self._console.print(
                f"{name} holds {contract.total():,} events on or before {until} (UTC), and every "
                "one of them is in the loader's quarantine: PostHog holds none of them. See the "
                "quarantine reasons (docs/loader.md, Quarantine).",
                soft_wrap=True,
            )
            return ExitCode.COUNTS_DIFFER
        report.since = since = settings.since or min(day for day, _ in expected)
        client = HogQLClient(
            settings.api_host,
            settings.project_id,
            settings.personal_key,
            timeout=settings.request_timeout,
            scrub=self._scrub,
            sleep=self._sleep,
        )
        names = {event for _, event in expected}
        deadline = self._clock() + settings.wait.total_seconds()
        try:
            while True:
                report.attempts += 1
                actual = posthog_counts(client, since, until + _DAY, names, settings.hogql_filter)
                report.rows = compare(expected, actual, settings.tolerance)
                differing = len(report.over_tolerance)
                if not differing or self._clock() + self._poll_interval > deadline:
                    break
                self._console.print(
                    f"{differing:,} (day, event) counts differ; asking PostHog again in "
                    f"{self._poll_interval:.0f}s (--wait).",
                    soft_wrap=True,
                )
                self._sleep(self._poll_interval)
            # Once, after the counts: what ingestion refused or changed, by type.
            report.warnings_since = settings.warnings_since
            report.warnings = ingestion_warnings(client, settings.warnings_since)
        finally:
            report.queries = client.requests
            client.close()
        report.print_summary(self._console)
        # However wide the tolerance: PostHog holding none of the expected events is no match.
        empty = report.totals()["posthog"] == 0
        return ExitCode.COUNTS_DIFFER if report.over_tolerance or empty else ExitCode.OK

    def _expected(
        self, warehouse: Warehouse, relation: str, until: dt.date
    ) -> tuple[DayEventCounts, DayEventCounts, DayEventCounts]:
        """From `since` on, per day and event: posthog_events' rows; those less the rows the
        loader's own checks quarantined (never meant to reach PostHog); the rows PostHog refused
        (expected still: --retry-quarantined sends them again)."""
        contract = warehouse_counts(warehouse, relation, until)
        expected, refused = DayEventCounts(contract), DayEventCounts()
        if contract:
            first = min(day for day, _ in contract)
            store = open_store(
                warehouse,
                state_file=self._settings.state_file,
                state_schema=self._settings.state_schema,
                warn=self._warn,
            )
            expected -= store.quarantined_counts("events", first, until, refused_by_posthog=False)
            refused = store.quarantined_counts("events", first, until, refused_by_posthog=True)
        since = self._settings.since

        def from_since(counts: DayEventCounts) -> DayEventCounts:
            return DayEventCounts(
                {key: count for key, count in counts.items() if since is None or key[0] >= since}
            )

        return from_since(contract), from_since(expected), from_since(refused)
