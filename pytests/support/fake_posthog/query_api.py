"""PostHog's query API (`POST /api/projects/<id>/query/`, HogQL) as far as `load-posthog` uses it,
answered from what the fake PostHog stored, with a personal API key (Bearer phx_...).

Each query shape it understands is a QueryShape: a parser for the HogQL text and an answer from
the store. Built in: the per-UTC-day, per-event count verify sends (see
posthog_loader/verify/counts.py), counted like PostHog's events table would: `stored` is every row
received, `kept` the rows left once ReplacingMergeTree merges collapse re-sends (one per uuid and
distinct_id within a day and event), and verify's per-type summary of `system.ingestion_warnings`
(see posthog_loader/verify/warnings.py) from EventStore.warnings. More shapes are added with
`QueryApi.shapes.append`. Any other query gets the 400 PostHog
gives a query it cannot run, with this server's reason. `ingestion_lag` hides events received less
than that many seconds ago, as PostHog's ingestion pipeline does.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from support.fake_posthog.http import HttpRequest, HttpResponse, json_response
from support.fake_posthog.store import EventStore, effective_timestamp

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


def count_answer(query: CountQuery, events: Iterable[StoredEvent]) -> dict:
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


_WARNINGS_QUERY = re.compile(
    r"\s*".join(
        [
            *_literal(
                "SELECT type , count ( ) AS warnings , uniqExactIf ( JSONExtractString ( details ,"
                " 'eventUuid' ) , JSONExtractString ( details , 'eventUuid' ) != '' ) AS events ,"
                " min ( timestamp ) AS first_seen , max ( timestamp ) AS last_seen ,"
                " any ( details ) AS example FROM system.ingestion_warnings"
                " WHERE timestamp >= fromUnixTimestamp ("
            ),
            r"(?P<since>\d+)",
            *_literal(") GROUP BY type ORDER BY warnings DESC , type LIMIT"),
            r"(?P<limit>\d+)",
        ]
    ),
    re.DOTALL,
)
WARNING_COLUMNS = ["type", "warnings", "events", "first_seen", "last_seen", "example"]


@dataclass(frozen=True)
class WarningsQuery:
    since: dt.datetime
    limit: int


def _parse_warnings(text: str) -> WarningsQuery | None:
    if "system.ingestion_warnings" not in text:
        return None
    match = _WARNINGS_QUERY.fullmatch(text.strip())
    if match is None:
        raise UnsupportedQuery(
            f"this test server answers only verify's warnings-per-type query, not: {text[:300]}"
        )
    since = _EPOCH + dt.timedelta(seconds=int(match["since"]))
    return WarningsQuery(since, int(match["limit"]))


def _answer_warnings(query: WarningsQuery, api: QueryApi) -> dict[str, Any]:
    """Grouped like ClickHouse would: per type, most warnings first; `any(details)` is the first
    row's details as JSON text, timestamps as the query API renders DateTime64 values."""
    groups: dict[str, list[Any]] = {}
    for warning in api.store.warnings:
        if warning.timestamp >= query.since:
            groups.setdefault(warning.type, []).append(warning)
    rows = []
    for kind, warnings in groups.items():
        named = {str(w.details.get("eventUuid")) for w in warnings if w.details.get("eventUuid")}
        stamps = sorted(w.timestamp for w in warnings)
        rows.append(
            [
                kind,
                len(warnings),
                len(named),
                stamps[0].isoformat(),
                stamps[-1].isoformat(),
                orjson.dumps(warnings[0].details).decode(),
            ]
        )
    rows.sort(key=lambda row: (-row[1], row[0]))
    return {"columns": WARNING_COLUMNS, "results": rows[: query.limit], "is_cached": False}


QUERY_PATH = re.compile(r"/api/projects/(?P<project>[^/]+)/query/?")


@dataclass(frozen=True)
class QueryShape:
    """One kind of HogQL query: `parse` returns None for text of another kind (or raises
    UnsupportedQuery with a reason), `answer` builds the response body from the store."""

    parse: Callable[[str], Any]
    answer: Callable[[Any, QueryApi], dict[str, Any]]


class ApiError(Exception):
    """An error of PostHog's API, worded as its REST framework words them."""

    def __init__(self, status: int, kind: str, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.kind, self.code, self.detail = status, kind, code, detail

    def response(self) -> HttpResponse:
        return json_response(
            self.status,
            {"type": self.kind, "code": self.code, "detail": self.detail, "attr": None},
        )


def _parse_count(text: str) -> CountQuery | None:
    return parse_count_query(text) if "uniqExact" in text else None


def _answer_count(query: CountQuery, api: QueryApi) -> dict[str, Any]:
    return count_answer(query, api.stored_events())


class QueryApi:
    def __init__(
        self, store: EventStore, personal_api_keys: Iterable[str], project_id: str
    ) -> None:
        self._store = store
        self.personal_api_keys = set(personal_api_keys)
        self.project_id = project_id
        # Seconds before a stored event shows in query results (PostHog ingests asynchronously).
        self.ingestion_lag = 0.0
        # The warnings shape first: its query has uniqExact too, which the count shape looks for.
        self.shapes: list[QueryShape] = [
            QueryShape(_parse_warnings, _answer_warnings),
            QueryShape(_parse_count, _answer_count),
        ]

    @property
    def store(self) -> EventStore:
        return self._store

    def stored_events(self) -> list[StoredEvent]:
        """Stored events old enough to have gone through ingestion, as the events table has them."""
        return [
            StoredEvent(event.uuid, event.event, event.distinct_id, effective_timestamp(event))
            for event in self._store.ingested(self.ingestion_lag)
        ]

    async def handle(self, request: HttpRequest) -> HttpResponse:
        try:
            text = self._authorized_query(request)
            for shape in self.shapes:
                parsed = shape.parse(text)
                if parsed is not None:
                    break
            else:
                raise UnsupportedQuery(f"this test server does not answer: {text[:300]}")
        except UnsupportedQuery as error:
            return ApiError(400, "validation_error", "query_error", str(error)).response()
        except ApiError as error:
            return error.response()
        self._store.log_query(orjson.loads(request.body))
        return json_response(200, shape.answer(parsed, self))

    def _authorized_query(self, request: HttpRequest) -> str:
        """The HogQL text, once the request passed the checks PostHog's API makes, in its order."""
        project = QUERY_PATH.fullmatch(request.path)
        assert project is not None
        if request.method != "POST":
            raise ApiError(405, "invalid_request", "method_not_allowed", "Use POST.")
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if not key:
            raise ApiError(
                401,
                "authentication_error",
                "not_authenticated",
                "Authentication credentials were not provided.",
            )
        if scheme.lower() != "bearer" or key.strip() not in self.personal_api_keys:
            raise ApiError(
                401,
                "authentication_error",
                "authentication_failed",
                "Personal API key found in request Authorization header is invalid.",
            )
        if project["project"] != self.project_id:
            raise ApiError(404, "invalid_request", "not_found", "Not found.")
        try:
            query = orjson.loads(request.body)["query"]
            kind, text = query["kind"], query["query"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            raise ApiError(
                400, "validation_error", "invalid_input", "Expected {query: {kind, query}}."
            ) from None
        if kind != "HogQLQuery":
            raise ApiError(400, "validation_error", "invalid_input", f"Unsupported kind {kind}.")
        return text
