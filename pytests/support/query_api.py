"""PostHog's query API (`POST /api/projects/<id>/query/`, HogQL) as far as `load-posthog verify` uses
it, answered from the events a CaptureServer stored.

It understands one query shape, the per-UTC-day, per-event count verify sends (see
posthog_loader/verify/counts.py), and counts like PostHog's events table would: `stored` is every
row received, `kept` the rows left once ReplacingMergeTree merges collapse re-sends (one per uuid
and distinct_id within a day and event). Any other query gets the 400 PostHog gives a query it
cannot run, with this server's reason.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_STRING = r"'(?:[^'\\]|\\.)*'"


def _literal(text: str) -> list[str]:
    return [re.escape(token) for token in text.split()]


# Tokens in order, any whitespace between them (string literals keep theirs).
_COUNT_QUERY = re.compile(
    r"\s*".join(
        [
            *_literal(
                "SELECT intDiv ( toUnixTimestamp ( timestamp ) , 86400 ) AS day , event ,"
                " count ( ) AS stored , uniqExact ( uuid , distinct_id ) AS kept FROM events"
                " WHERE timestamp >= fromUnixTimestamp ("
            ),
            r"(?P<since>\d+)",
            *_literal(") AND timestamp < fromUnixTimestamp ("),
            r"(?P<until>\d+)",
            *_literal(") AND event IN ("),
            rf"(?P<events>{_STRING}(?:\s*,\s*{_STRING})*)",
            *_literal(") GROUP BY day , event ORDER BY day , event LIMIT"),
            r"(?P<limit>\d+)",
            "OFFSET",
            r"(?P<offset>\d+)",
        ]
    ),
    re.DOTALL,
)
COLUMNS = ["day", "event", "stored", "kept"]


class UnsupportedQuery(ValueError):
    pass


@dataclass(frozen=True)
class CountQuery:
    since: dt.datetime
    until: dt.datetime
    events: frozenset[str]
    limit: int
    offset: int


def _unescape(literal: str) -> str:
    return re.sub(r"\\(.)", r"\1", literal[1:-1])


def parse_count_query(text: str) -> CountQuery:
    match = _COUNT_QUERY.fullmatch(text.strip())
    if match is None:
        raise UnsupportedQuery(
            "this test server answers only the per-day, per-event count query load-posthog "
            f"verify sends, not: {text[:300]}"
        )
    return CountQuery(
        since=_EPOCH + dt.timedelta(seconds=int(match["since"])),
        until=_EPOCH + dt.timedelta(seconds=int(match["until"])),
        events=frozenset(_unescape(value) for value in re.findall(_STRING, match["events"])),
        limit=int(match["limit"]),
        offset=int(match["offset"]),
    )


@dataclass(frozen=True)
class StoredEvent:
    uuid: str | None
    event: str
    distinct_id: str
    # The timestamp PostHog stored (after capture's own adjustments), UTC.
    timestamp: dt.datetime


def answer(query: CountQuery, events: Iterable[StoredEvent]) -> dict:
    """The body PostHog's query API returns for a HogQLQuery."""
    stored: dict[tuple[int, str], int] = {}
    kept: dict[tuple[int, str], set[tuple[str | None, str]]] = {}
    for event in events:
        if event.event not in query.events or not query.since <= event.timestamp < query.until:
            continue
        key = ((event.timestamp - _EPOCH).days, event.event)
        stored[key] = stored.get(key, 0) + 1
        kept.setdefault(key, set()).add((event.uuid, event.distinct_id))
    rows = [
        [day, name, stored[(day, name)], len(kept[(day, name)])] for day, name in sorted(stored)
    ]
    page = rows[query.offset : query.offset + query.limit]
    return {
        "columns": COLUMNS,
        "types": [["day", "Int64"], ["event", "String"], ["stored", "UInt64"], ["kept", "UInt64"]],
        "results": page,
        "hasMore": query.offset + query.limit < len(rows),
        "limit": query.limit,
        "offset": query.offset,
        "is_cached": False,
    }
