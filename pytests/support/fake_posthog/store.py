"""What the fake PostHog keeps: accepted events (in full, uuids only, or a count), every request's
outcome, query bodies and ingestion warnings; quota loss and deduplication the way PostHog's
events table does them."""

from __future__ import annotations

import datetime as dt
import os
import threading
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson

from support.fake_posthog.capture import AcceptedBatch

FUTURE_CLAMP = dt.timedelta(hours=23)

Record = Literal["full", "uuids", "count"]


@dataclass(frozen=True)
class ReceivedEvent:
    uuid: str | None
    event: str
    distinct_id: str
    timestamp: str | None
    historical_migration: bool
    sent_at: str | None
    request_id: int
    received_at: dt.datetime
    body: dict[str, Any]


@dataclass(frozen=True)
class ReceivedRequest:
    id: int
    path: str
    status: int
    events: int
    compressed: bool
    # Monotonic arrival time, for ordering and for checking retry spacing.
    arrived: float
    answered: float
    token: str | None = None
    historical_migration: bool | None = None
    has_sent_at: bool = False
    # The decompressed body, kept only with keep_bodies=True.
    body: bytes | None = None
    # The fault applied instead of capture's answer ("" when capture answered).
    fault: str = ""


@dataclass(frozen=True)
class IngestionWarning:
    """A row of PostHog's system.ingestion_warnings: what ingestion refused or changed after
    capture answered 200 (e.g. invalid_event_timestamp, cannot_merge_already_identified)."""

    type: str
    source: str
    details: dict[str, Any]
    timestamp: dt.datetime


def _parse_timestamp(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def effective_timestamp(event: ReceivedEvent) -> dt.datetime:
    """The timestamp PostHog would store (capture's parse_event_timestamp), for dedup keys."""
    now = event.received_at
    offset = event.body.get("offset")
    if isinstance(offset, int):
        return now - dt.timedelta(milliseconds=offset)
    timestamp = _parse_timestamp(event.timestamp) or now
    properties = event.body.get("properties") or {}
    sent_at = _parse_timestamp(event.sent_at)
    if sent_at is not None and not properties.get("$ignore_sent_at"):
        timestamp = now + (timestamp - sent_at)
    return now if timestamp > now + FUTURE_CLAMP else timestamp


def achieved_rate(requests: Iterable[ReceivedRequest]) -> float | None:
    """Events per second this server accepted, the way a rate budget is judged: from the first
    accepted request's arrival to the last's, counting the events of every accepted request but
    the last (a paced client spends the time after a request on its events). None: fewer than two
    accepted requests."""
    accepted = sorted((r.arrived, r.events) for r in requests if 200 <= r.status < 300)
    if len(accepted) < 2 or accepted[-1][0] == accepted[0][0]:
        return None
    return sum(events for _, events in accepted[:-1]) / (accepted[-1][0] - accepted[0][0])


class _UuidLog:
    """What record="uuids" keeps: one newline-joined chunk per request, in memory or, for
    several worker processes sharing a port, in one append-only file per worker."""

    def __init__(self, directory: Path | None) -> None:
        self._directory = directory
        # Keeping millions of small strings alive instead pins the parser's memory pools and
        # halves the server's speed.
        self._chunks: list[str] = []

    def append(self, uuids: Iterable[str]) -> None:
        chunk = "\n".join(uuids)
        if self._directory is None:
            self._chunks.append(chunk)
            return
        with open(self._directory / f"uuids-{os.getpid()}", "a") as log:
            log.write(chunk + "\n")

    def read(self) -> list[str]:
        if self._directory is None:
            return [uuid for chunk in self._chunks for uuid in chunk.split("\n")]
        return [
            line
            for path in sorted(self._directory.glob("uuids-*"))
            for line in path.read_text().splitlines()
        ]

    def clear(self) -> None:
        self._chunks.clear()
        if self._directory is not None:
            for path in self._directory.glob("uuids-*"):
                path.unlink()


class EventStore:
    """Thread-safe: the server's loop writes, the test's thread reads."""

    def __init__(self, record: Record, keep_bodies: bool, record_dir: Path | None) -> None:
        self.record = record
        self.keep_bodies = keep_bodies
        # Like a project over its billing quota: accept with 200, keep only the rest (per uuid).
        self.drop_fraction = 0.0
        self.lock = threading.Lock()
        self._events: list[ReceivedEvent] = []
        self._uuid_log = _UuidLog(record_dir)
        self._event_count = 0
        self._dropped = 0
        self._requests: list[ReceivedRequest] = []
        self._queries: list[dict[str, Any]] = []
        self._warnings: list[IngestionWarning] = []

    def lost_to_quota(self, uuid: Any) -> bool:
        """Whether drop_fraction loses this event: decided by its uuid, so a re-send is lost
        again, as it would be while the project stays over its quota."""
        if not self.drop_fraction:
            return False
        return zlib.crc32(str(uuid).encode()) % 1_000_000 < self.drop_fraction * 1_000_000

    def store(self, accepted: AcceptedBatch, request_id: int) -> None:
        events = accepted.events
        kept = [not self.lost_to_quota(event.uuid) for event in events]
        if self.record == "full":
            # Tests want the events as dicts; decode them fully (only here, it costs).
            body = orjson.loads(accepted.data)
            bodies = body if isinstance(body, list) else body.get("batch", [body])
            now = dt.datetime.now(dt.UTC)
            received = [
                ReceivedEvent(
                    event.get("uuid") or None,
                    name,
                    distinct_id,
                    event.get("timestamp"),
                    accepted.historical,
                    accepted.sent_at,
                    request_id,
                    now,
                    event,
                )
                for event, (name, distinct_id), keep in zip(
                    bodies, accepted.checked, kept, strict=True
                )
                if keep
            ]
        with self.lock:
            self._event_count += sum(kept)
            self._dropped += len(kept) - sum(kept)
            if self.record == "full":
                self._events.extend(received)
            elif self.record == "uuids":
                self._uuid_log.append(
                    event.uuid or "" for event, keep in zip(events, kept, strict=True) if keep
                )

    def log_request(self, request: ReceivedRequest) -> None:
        with self.lock:
            self._requests.append(request)

    def log_query(self, body: dict[str, Any]) -> None:
        with self.lock:
            self._queries.append(body)

    def warn(self, warning: IngestionWarning) -> None:
        with self.lock:
            self._warnings.append(warning)

    # -- inspection ----------------------------------------------------------------------------

    @property
    def events(self) -> list[ReceivedEvent]:
        with self.lock:
            return list(self._events)

    @property
    def requests(self) -> list[ReceivedRequest]:
        with self.lock:
            return list(self._requests)

    @property
    def queries(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self._queries)

    @property
    def warnings(self) -> list[IngestionWarning]:
        with self.lock:
            return list(self._warnings)

    @property
    def dropped(self) -> int:
        with self.lock:
            return self._dropped

    def uuids(self) -> list[str | None]:
        with self.lock:
            if self.record == "full":
                return [event.uuid for event in self._events]
            return [uuid or None for uuid in self._uuid_log.read()]

    @property
    def event_count(self) -> int:
        if self.record == "count":
            with self.lock:
                return self._event_count
        return len(self.uuids())

    def deduplicated(self) -> dict[tuple[str | None, str, dt.date, str], ReceivedEvent]:
        """Events as PostHog keeps them after merges: one per (uuid, event, day, distinct_id),
        the last received winning (ReplacingMergeTree ordered by _timestamp)."""
        if self.record != "full":
            raise RuntimeError("deduplicated() needs record='full'")
        kept: dict[tuple[str | None, str, dt.date, str], ReceivedEvent] = {}
        for event in self.events:
            key = (event.uuid, event.event, effective_timestamp(event).date(), event.distinct_id)
            kept[key] = event
        return kept

    def ingested(self, lag: float) -> list[ReceivedEvent]:
        """Stored events received at least `lag` seconds ago (gone through ingestion)."""
        if self.record != "full":
            raise RuntimeError("the query API needs record='full'")
        visible_before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=lag)
        return [event for event in self.events if event.received_at <= visible_before]

    def stats(self) -> dict[str, Any]:
        uuids = None if self.record == "count" else self.uuids()
        with self.lock:
            return {
                "requests": len(self._requests),
                "events": self._event_count if uuids is None else len(uuids),
                "unique_uuids": None if uuids is None else len(set(uuids)),
                "dropped": self._dropped,
                "statuses": {
                    str(status): count
                    for status, count in Counter(r.status for r in self._requests).items()
                },
                "faults": dict(Counter(r.fault for r in self._requests if r.fault)),
                "events_per_second": achieved_rate(self._requests),
            }

    def reset(self) -> None:
        with self.lock:
            self._events.clear()
            self._uuid_log.clear()
            self._requests.clear()
            self._queries.clear()
            self._warnings.clear()
            self._event_count = 0
            self._dropped = 0
