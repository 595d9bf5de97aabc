"""Warehouse against PostHog, per UTC day and event: the differences, the usual causes, the JSON."""

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

from posthog_loader.state import DayEventCounts
from posthog_loader.verify.counts import PostHogCounts
from posthog_loader.verify.settings import Tolerance
from posthog_loader.verify.warnings import WarningCount

# Differences printed; the JSON report has every row.
PRINTED_ROWS = 50

FEWER_CAUSES = (
    "The project is over its billing limit (quota): capture still answers 200 and drops the "
    "events. Check Billing; re-send the missing days with `load-posthog --reset --models events` "
    "once the limit is lifted (same uuids: nothing is counted twice).",
    "Ingestion lag: an event counts once ingested, and the historical lane runs behind live "
    "traffic. Run verify again later, or with --wait 30m.",
    "Events dropped at ingestion by the project: bot filtering, event drop rules or "
    "transformations in Data pipelines.",
    "Rows not loaded yet: a shard not run, or events held as too recent (--recent hold); compare "
    "older days with --until.",
)
MORE_CAUSES = (
    "Events captured in this project by other means (an SDK, another import) under the same "
    "names: leave them out with --hogql-filter.",
    "The same event stored under another distinct id or day (re-sent after --reset once the "
    "source re-attributed it): PostHog collapses a re-send only when uuid, event, UTC day and "
    "distinct id all match.",
)


@dataclass(frozen=True)
class DayEventRow:
    day: dt.date
    event: str
    expected: int
    # Rows PostHog keeps once re-sends are merged, and rows stored right now.
    posthog: int
    stored: int
    within_tolerance: bool

    @property
    def difference(self) -> int:
        return self.posthog - self.expected

    def to_dict(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "event": self.event,
            "expected": self.expected,
            "posthog": self.posthog,
            "posthog_stored": self.stored,
            "difference": self.difference,
            "within_tolerance": self.within_tolerance,
        }


def compare(
    expected: DayEventCounts, actual: PostHogCounts, tolerance: Tolerance
) -> list[DayEventRow]:
    keys = sorted(set(expected) | set(actual.kept))
    return [
        DayEventRow(
            day,
            event,
            expected[(day, event)],
            actual.kept[(day, event)],
            actual.stored[(day, event)],
            abs(actual.kept[(day, event)] - expected[(day, event)])
            <= tolerance.allowance(expected[(day, event)]),
        )
        for day, event in keys
    ]


def _signed(number: int) -> str:
    return f"{number:+,}" if number else "0"


@dataclass
class VerifyReport:
    api_host: str
    project_id: str
    relation: str
    tolerance: Tolerance
    hogql_filter: str | None
    started_at: dt.datetime
    since: dt.date | None = None
    until: dt.date | None = None
    rows: list[DayEventRow] = field(default_factory=list)
    # PostHog's ingestion warnings raised since `warnings_since`, per type (None: not read).
    warnings: list[WarningCount] | None = None
    warnings_since: dt.datetime | None = None
    # Times PostHog was asked (with --wait, until the counts matched or time ran out).
    attempts: int = 0
    queries: int = 0
    finished_at: dt.datetime | None = None
    # Expected rows in the loader's quarantine because PostHog refused them.
    refused_by_posthog: int = 0
    exit_code: int | None = None
    error: str | None = None

    @property
    def over_tolerance(self) -> list[DayEventRow]:
        return [row for row in self.rows if not row.within_tolerance]

    def totals(self) -> dict[str, int]:
        expected = sum(row.expected for row in self.rows)
        posthog = sum(row.posthog for row in self.rows)
        return {
            "expected": expected,
            "posthog": posthog,
            "posthog_stored": sum(row.stored for row in self.rows),
            "difference": posthog - expected,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "api_host": self.api_host,
            "project_id": self.project_id,
            "relation": self.relation,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "tolerance": str(self.tolerance),
            "hogql_filter": self.hogql_filter,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "attempts": self.attempts,
            "queries": self.queries,
            "exit_code": self.exit_code,
            "error": self.error,
            "totals": self.totals(),
            "refused_by_posthog": self.refused_by_posthog,
            "days": len({row.day for row in self.rows}),
            "rows_over_tolerance": len(self.over_tolerance),
            "rows": [row.to_dict() for row in self.rows],
            "ingestion_warnings": None
            if self.warnings is None
            else {
                "since": self.warnings_since.isoformat() if self.warnings_since else None,
                "total": sum(warning.warnings for warning in self.warnings),
                "by_type": [warning.to_dict() for warning in self.warnings],
            },
        }

    def _print_warnings(self, console: Console) -> None:
        if self.warnings is None:
            return
        since = f"{self.warnings_since:%Y-%m-%d %H:%M} UTC" if self.warnings_since else "?"
        if not self.warnings:
            console.print(f"No ingestion warnings since {since} (--warnings-since).")
            return
        total = sum(warning.warnings for warning in self.warnings)
        table = Table(
            title=f"{total:,} ingestion warnings since {since}: events PostHog refused or changed",
            title_justify="left",
        )
        for header in ("type", "warnings", "events", "meaning"):
            table.add_column(
                header,
                justify="right" if header in ("warnings", "events") else "left",
                # Whole, never cut: a type is what a user searches PostHog's docs for; the
                # meaning wraps instead.
                no_wrap=header != "meaning",
                min_width=max(len(w.type) for w in self.warnings) if header == "type" else None,
            )
        for warning in self.warnings:
            table.add_row(
                warning.type,
                f"{warning.warnings:,}",
                f"{warning.events:,}",
                warning.meaning,
            )
        console.print(table)

    def print_summary(self, console: Console) -> None:
        self._print_warnings(console)
        totals = self.totals()
        span = f"{self.since} … {self.until}" if self.since else f"up to {self.until}"
        console.print(
            f"PostHog project {self.project_id} against {self.relation}, UTC days {span}, "
            f"tolerance {self.tolerance}: {totals['expected']:,} events expected, "
            f"{totals['posthog']:,} in PostHog ({_signed(totals['difference'])}), "
            f"{len(self.rows):,} (day, event) counts compared.",
            soft_wrap=True,
            highlight=False,
        )
        pending = totals["posthog_stored"] - totals["posthog"]
        if pending > 0:
            console.print(
                f"{pending:,} stored rows are re-sends PostHog has not merged yet (its "
                "deduplication is eventual); they are not counted.",
                soft_wrap=True,
            )
        if self.refused_by_posthog:
            console.print(
                f"{self.refused_by_posthog:,} expected events are in the loader's quarantine "
                "because PostHog refused them; once the cause is fixed, `load-posthog "
                "--retry-quarantined` sends them again.",
                soft_wrap=True,
            )
        over = self.over_tolerance
        if totals["posthog"] == 0 and totals["expected"]:
            console.print(
                "PostHog holds none of the expected events: that is never a match, whatever "
                "the tolerance.",
                soft_wrap=True,
            )
        if not over:
            if self.rows and totals["posthog"]:
                console.print("Every count matches within the tolerance.")
            return
        console.print(self._table(over))
        causes = []
        if any(row.difference < 0 for row in over):
            causes += ["Fewer in PostHog:", *(f"  - {cause}" for cause in FEWER_CAUSES)]
        if any(row.difference > 0 for row in over):
            causes += ["More in PostHog:", *(f"  - {cause}" for cause in MORE_CAUSES)]
        console.print("Usual causes:", *causes, sep="\n", soft_wrap=True, highlight=False)

    @staticmethod
    def _table(rows: list[DayEventRow]) -> Table:
        title = f"{len(rows):,} (day, event) counts differ beyond the tolerance"
        if len(rows) > PRINTED_ROWS:
            title += f" (first {PRINTED_ROWS}; all in --report)"
        table = Table(title=title, title_justify="left")
        for header in ("day", "event", "expected", "in PostHog", "difference"):
            table.add_column(header, justify="left" if header in ("day", "event") else "right")
        for row in rows[:PRINTED_ROWS]:
            percent = f" ({row.difference / row.expected:+.1%})" if row.expected else ""
            table.add_row(
                row.day.isoformat(),
                row.event,
                f"{row.expected:,}",
                f"{row.posthog:,}",
                _signed(row.difference) + percent,
            )
        return table
