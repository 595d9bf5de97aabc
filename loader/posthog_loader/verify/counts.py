"""Events per UTC day and event name, on both sides: what posthog_events holds, and what PostHog's
events table holds once its deduplication has run."""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from posthog_loader.errors import PostHogUnavailableError
from posthog_loader.state import DayEventCounts
from posthog_loader.verify.hogql import HogQLClient
from posthog_loader.warehouse import Warehouse

# Rows per query page; PostHog returns at most 50,000 rows per query.
PAGE_ROWS = 10_000
_EPOCH = dt.date(1970, 1, 1)
_COLUMNS = ["day", "event", "stored", "kept"]


def warehouse_counts(warehouse: Warehouse, relation: str, until: dt.date) -> DayEventCounts:
    """Rows of the events view per UTC day and event, before `until` (exclusive)."""
    dialect = warehouse.dialect
    ts, event, uuid = (dialect.quote(name) for name in ("timestamp", "event", "uuid"))
    rows = warehouse.fetch(
        f"select cast({ts} as date), {event}, count(*) from {relation}"
        f" where {ts} < cast({dialect.param('until')} as {dialect.timestamp_type})"
        # Rows the loader can never send: no uuid or no name (the quarantine holds the rest).
        f" and {uuid} is not null and {event} is not null group by 1, 2",
        {"until": dt.datetime.combine(until, dt.time())},
    )
    counts = DayEventCounts()
    for day, name, count in rows:
        counts[(day.date() if isinstance(day, dt.datetime) else day, name)] += int(count)
    return counts


def _unix_seconds(day: dt.date) -> int:
    return (day - _EPOCH).days * 86_400


def hogql_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def count_query(
    since: dt.date,
    until: dt.date,
    events: Iterable[str],
    hogql_filter: str | None,
    *,
    offset: int,
    limit: int = PAGE_ROWS,
) -> str:
    """Per UTC day and event: rows stored, and rows kept once PostHog's merges collapse re-sends
    (one per uuid and distinct_id within a day and event: its deduplication key).

    Days are computed from epoch seconds, which no time zone affects: HogQL's date functions
    would use the project's time zone.
    """
    conditions = [
        f"timestamp >= fromUnixTimestamp({_unix_seconds(since)})",
        f"timestamp < fromUnixTimestamp({_unix_seconds(until)})",
        f"event IN ({', '.join(hogql_string(name) for name in sorted(events))})",
    ]
    if hogql_filter:
        conditions.append(f"({hogql_filter})")
    return (
        "SELECT intDiv(toUnixTimestamp(timestamp), 86400) AS day, event,"
        " count() AS stored, uniqExact(uuid, distinct_id) AS kept\n"
        "FROM events\n"
        f"WHERE {' AND '.join(conditions)}\n"
        "GROUP BY day, event\n"
        "ORDER BY day, event\n"
        f"LIMIT {limit} OFFSET {offset}"
    )


@dataclass(frozen=True)
class PostHogCounts:
    # Rows as stored now, re-sends not yet merged included.
    stored: DayEventCounts
    # Rows left once merges have run: what a delivered event should count once.
    kept: DayEventCounts


def posthog_counts(
    client: HogQLClient,
    since: dt.date,
    until: dt.date,
    events: Iterable[str],
    hogql_filter: str | None,
    *,
    page_rows: int = PAGE_ROWS,
) -> PostHogCounts:
    names = sorted(set(events))
    stored, kept = DayEventCounts(), DayEventCounts()
    offset = 0
    while True:
        result = client.query(
            count_query(since, until, names, hogql_filter, offset=offset, limit=page_rows),
            purpose="count",
        )
        if not set(_COLUMNS) <= set(result.columns):
            raise PostHogUnavailableError(
                f"PostHog answered the count query with columns {result.columns}, not {_COLUMNS}."
            )
        positions = [result.columns.index(column) for column in _COLUMNS]
        for row in result.rows:
            day, name, stored_rows, kept_rows = (row[index] for index in positions)
            key = (_EPOCH + dt.timedelta(days=int(day)), name)
            stored[key] += int(stored_rows)
            kept[key] += int(kept_rows)
        if len(result.rows) < page_rows:
            return PostHogCounts(stored, kept)
        offset += page_rows
