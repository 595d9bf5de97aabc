"""A PostHog-capture-compatible HTTP server for tests and benchmarks.

It enforces the v0 capture contract the loader relies on (see
/work/shared/reference/posthog_capture.md, summarising PostHog/posthog rust/capture):

- routes /batch and /batch/; the Batch ({api_key|token, historical_migration, sent_at, batch}),
  Array and One body shapes;
- token checks: missing → 401, personal key (phx_) → 401, not in the configured set → 403;
- gzip detected by its magic bytes whatever the headers say (or ?compression=gzip);
- 20 MiB body limit → 413; an event over 1,000,000 bytes → 413;
- one invalid event (empty name, missing/empty distinct_id, bad uuid, undecodable JSON) or an empty
  batch rejects the whole request with 400 and stores nothing.

Accepted events are recorded with the request's historical_migration flag and sent_at. Faults can be
programmed per request (status with Retry-After, slow answers, dropped connections), from the test
process (`inject`, `fault_hook`, `default_delay`) or over HTTP (`POST /_admin/faults`). Like a
project over its billing quota, it can answer 200 and keep only part of the events
(`drop_fraction`).

PostHog's query API, `POST /api/projects/<project_id>/query/` with a personal API key (Bearer
phx_...), answers `load-posthog verify`'s count query from the stored events, deduplicated the way
PostHog's events table is (support/query_api.py); `ingestion_lag` hides events received less than
that many seconds ago, as PostHog's ingestion pipeline does.

Standalone, for benchmarks: python pytests/support/capture_server.py --port 8123 --token phc_x
(add --workers 2 to accept on the port from two processes; /_admin/stats then counts events and
uuids over all workers, requests and faults per worker).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import itertools
import os
import re
import signal
import socket
import sys
import tempfile
import threading
import time
import uuid as uuid_module
import zlib
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import h11
import msgspec
import orjson
from isal import isal_zlib

if not __package__:  # run as a script (benchmarks): make `support` importable as under pytest
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support import query_api

BATCH_BODY_LIMIT = 20 * 1024 * 1024
DECOMPRESSED_LIMIT = 5 * BATCH_BODY_LIMIT
EVENT_SIZE_LIMIT = 1_000_000
DISTINCT_ID_MAX_CHARS = 200
FUTURE_CLAMP = dt.timedelta(hours=23)
GZIP_MAGIC = b"\x1f\x8b\x08"
_HYPHENATED_UUID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
_READ_CHUNK = 256 * 1024
_QUERY_PATH = re.compile(r"/api/projects/(?P<project>[^/]+)/query/?")

Record = Literal["full", "uuids", "count"]


@dataclass(frozen=True)
class Fault:
    """What to do to one request instead of (or before) answering it normally."""

    status: int | None = None
    retry_after: str | None = None
    delay: float = 0.0
    drop: bool = False

    @classmethod
    def respond(cls, status: int, retry_after: str | float | None = None) -> Fault:
        return cls(status=status, retry_after=None if retry_after is None else str(retry_after))

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        return cls(delay=seconds)

    @classmethod
    def dropped(cls) -> Fault:
        return cls(drop=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fault:
        return cls(
            status=data.get("status"),
            retry_after=None if data.get("retry_after") is None else str(data["retry_after"]),
            delay=float(data.get("delay", 0.0)),
            drop=bool(data.get("drop", False)),
        )


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


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


Handler = Callable[[HttpRequest], Awaitable[HttpResponse | None]]


class _Rejected(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _json_response(
    status: int, payload: Any, headers: Iterable[tuple[str, str]] = ()
) -> HttpResponse:
    return HttpResponse(
        status, orjson.dumps(payload), (("content-type", "application/json"), *headers)
    )


class _WireProperties(msgspec.Struct):
    """The few properties capture itself reads; the rest are validated JSON, then skipped."""

    distinct_id: Any = None
    token: Any = None
    cookieless_mode: Any = msgspec.field(default=None, name="$cookieless_mode")


class _WireEvent(msgspec.Struct):
    """capture-rs RawEvent, as far as validation needs it."""

    event: Any = None
    distinct_id: Any = None
    dollar_distinct_id: Any = msgspec.field(default=None, name="$distinct_id")
    uuid: Any = None
    timestamp: Any = None
    properties: _WireProperties | None = None
    token: Any = None
    api_key: Any = None
    dollar_token: Any = msgspec.field(default=None, name="$token")


class _WireObject(_WireEvent):
    """A JSON object body: the Batch envelope when it has `batch`, otherwise a single event."""

    batch: list[_WireEvent] | msgspec.UnsetType = msgspec.UNSET
    historical_migration: Any = None
    sent_at: Any = None


class _RawEnvelope(msgspec.Struct):
    batch: list[msgspec.Raw] | msgspec.UnsetType = msgspec.UNSET


# msgspec validates the whole JSON text (strictly, like serde_json) but only builds what capture
# looks at; that keeps this server fast enough to measure the loader rather than itself.
_decode_request = msgspec.json.Decoder(_WireObject | list[_WireEvent]).decode
_decode_raw_events = msgspec.json.Decoder(_RawEnvelope | list[msgspec.Raw]).decode


class _ApiError(Exception):
    """An error of PostHog's API, worded as its REST framework words them."""

    def __init__(self, status: int, kind: str, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.kind, self.code, self.detail = status, kind, code, detail


def _decoding_error(detail: str) -> _Rejected:
    return _Rejected(400, "request_decoding_error", f"failed to decode request: {detail}")


def _valid_uuid(value: str) -> bool:
    if _HYPHENATED_UUID.fullmatch(value):
        return True
    try:  # braced, urn:uuid: and simple forms, as Rust's uuid crate accepts
        uuid_module.UUID(value)
    except ValueError:
        return False
    return True


def _distinct_id(event: _WireEvent) -> str:
    """capture-rs extract_distinct_id: top level first, then properties; stringified, cut at 200."""
    value = event.distinct_id
    if value is None:
        value = event.dollar_distinct_id
    if value is None and event.properties is not None:
        value = event.properties.distinct_id
    if value is None or value == "":
        raise _Rejected(400, "missing_distinct_id", "missing distinct_id")
    if not isinstance(value, str):
        value = orjson.dumps(value).decode()
    return value.replace("\0", "\ufffd")[:DISTINCT_ID_MAX_CHARS]


def _check_event(event: _WireEvent) -> tuple[str, str]:
    """Validate one event like capture's process_single_event; returns (event name, distinct_id)."""
    name = event.event
    if not isinstance(name, str):
        raise _decoding_error("missing field `event`")
    if not name:
        raise _Rejected(400, "missing_event_name", "missing event name")
    if event.properties is not None and event.properties.cookieless_mode not in (None, True, False):
        raise _Rejected(400, "invalid_cookieless_mode", "invalid $cookieless_mode")
    if event.timestamp is not None and not isinstance(event.timestamp, str):
        raise _decoding_error("invalid timestamp")
    uuid = event.uuid
    if uuid not in (None, "") and not (isinstance(uuid, str) and _valid_uuid(uuid)):
        raise _decoding_error(f"invalid uuid {uuid!r}")
    return name, _distinct_id(event)


def _token_of(event: _WireEvent) -> Any:
    for value in (event.token, event.api_key, event.dollar_token):
        if value is not None:
            return value
    return event.properties.token if event.properties is not None else None


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


class CaptureServer:
    """Runs on its own thread (`start`/`stop`, or `with`) or in the current loop (`serve`)."""

    def __init__(
        self,
        tokens: Iterable[str] = ("phc_test",),
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        record: Record = "full",
        keep_bodies: bool = False,
        event_size_limit: int = EVENT_SIZE_LIMIT,
        record_dir: Path | None = None,
        personal_api_keys: Iterable[str] = ("phx_test",),
        project_id: str = "1",
    ) -> None:
        self.tokens = set(tokens)
        # The query API's side: keys it accepts and the one project it serves.
        self.personal_api_keys = set(personal_api_keys)
        self.project_id = project_id
        # Like a project over its billing quota: accept with 200, keep only the rest (per uuid).
        self.drop_fraction = 0.0
        # Seconds before a stored event shows in query results (PostHog ingests asynchronously).
        self.ingestion_lag = 0.0
        # Lower it to make ordinary events "too big" in tests.
        self.event_size_limit = event_size_limit
        self.host = host
        self.port = port
        self.record = record
        self.keep_bodies = keep_bodies
        # Delay every capture request by this much (makes a load slow enough to interrupt).
        self.default_delay = 0.0
        # Called with each capture request's index (0-based); a Fault it returns applies.
        self.fault_hook: Callable[[int], Fault | None] | None = None
        self.routes: dict[str, Handler] = {
            "/batch": self._capture,
            "/batch/": self._capture,
            "/_admin/stats": self._admin_stats,
            "/_admin/faults": self._admin_faults,
            "/_admin/reset": self._admin_reset,
        }
        self._lock = threading.Lock()
        self._faults: deque[Fault] = deque()
        self._request_ids = itertools.count()
        self._events: list[ReceivedEvent] = []
        self._uuid_log = _UuidLog(record_dir)
        self._event_count = 0
        self._dropped = 0
        self._requests: list[ReceivedRequest] = []
        self._queries: list[dict[str, Any]] = []
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def serve(
        self, ready: Callable[[], None] | None = None, sock: socket.socket | None = None
    ) -> None:
        """Serve in the running loop until `stop` is called (or the task is cancelled).

        With `sock`, accept on an already listening socket (shared by worker processes).
        """
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        if sock is None:
            server = await asyncio.start_server(self._connection, self.host, self.port)
        else:
            server = await asyncio.start_server(self._connection, sock=sock)
        self.port = server.sockets[0].getsockname()[1]
        if ready:
            ready()
        try:
            await self._stopping.wait()
        finally:
            server.close()
            for writer in list(self._writers):
                writer.close()
            await server.wait_closed()

    def start(self) -> CaptureServer:
        ready = threading.Event()
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self.serve(ready.set)), name="capture-server", daemon=True
        )
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("capture server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def __enter__(self) -> CaptureServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- fault injection -----------------------------------------------------------------------

    def inject(self, *faults: Fault, times: int = 1) -> None:
        """Apply these faults, in order, to the next capture requests (repeated `times` times)."""
        with self._lock:
            self._faults.extend(list(faults) * times)

    def _next_fault(self, index: int) -> Fault | None:
        if self.fault_hook is not None:
            fault = self.fault_hook(index)
            if fault is not None:
                return fault
        with self._lock:
            return self._faults.popleft() if self._faults else None

    # -- inspection ----------------------------------------------------------------------------

    @property
    def events(self) -> list[ReceivedEvent]:
        with self._lock:
            return list(self._events)

    @property
    def requests(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._requests)

    def uuids(self) -> list[str | None]:
        with self._lock:
            if self.record == "full":
                return [event.uuid for event in self._events]
            return [uuid or None for uuid in self._uuid_log.read()]

    @property
    def queries(self) -> list[dict[str, Any]]:
        """Bodies of the query API requests answered with results."""
        with self._lock:
            return list(self._queries)

    @property
    def dropped(self) -> int:
        """Events accepted with 200 but not kept (drop_fraction)."""
        with self._lock:
            return self._dropped

    @property
    def event_count(self) -> int:
        if self.record == "count":
            with self._lock:
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

    def stats(self) -> dict[str, Any]:
        uuids = None if self.record == "count" else self.uuids()
        with self._lock:
            return {
                "requests": len(self._requests),
                "events": self._event_count if uuids is None else len(uuids),
                "unique_uuids": None if uuids is None else len(set(uuids)),
                "dropped": self._dropped,
                "statuses": {
                    str(status): count
                    for status, count in Counter(r.status for r in self._requests).items()
                },
            }

    def reset(self) -> None:
        with self._lock:
            self._events.clear()
            self._uuid_log.clear()
            self._requests.clear()
            self._queries.clear()
            self._faults.clear()
            self._event_count = 0
            self._dropped = 0

    # -- HTTP ----------------------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        connection = h11.Connection(h11.SERVER, max_incomplete_event_size=64 * 1024)
        try:
            while True:
                request = await self._read_request(connection, reader)
                if request is None:
                    return
                handler = self.routes.get(request.path)
                if handler is None and _QUERY_PATH.fullmatch(request.path):
                    handler = self._query
                if handler is None:
                    response: HttpResponse | None = _json_response(404, {"error": "not found"})
                else:
                    try:
                        response = await handler(request)
                    except Exception as error:  # a bug in a handler must not look like a drop
                        response = _json_response(500, {"error": repr(error)})
                if response is None:  # dropped: close without answering
                    return
                writer.write(self._encode_response(connection, response))
                await writer.drain()
                if connection.our_state is h11.MUST_CLOSE:
                    return
                connection.start_next_cycle()
        except (h11.ProtocolError, ConnectionError):
            return
        finally:
            self._writers.discard(writer)
            writer.close()

    @staticmethod
    async def _next_event(connection: h11.Connection, reader: asyncio.StreamReader) -> Any:
        while True:
            event = connection.next_event()
            if event is not h11.NEED_DATA:
                return event
            connection.receive_data(await reader.read(_READ_CHUNK))

    async def _read_request(
        self, connection: h11.Connection, reader: asyncio.StreamReader
    ) -> HttpRequest | None:
        start = await self._next_event(connection, reader)
        if not isinstance(start, h11.Request):
            return None
        parts: list[bytes] = []
        while True:
            event = await self._next_event(connection, reader)
            if isinstance(event, h11.Data):
                parts.append(event.data)
            elif isinstance(event, h11.EndOfMessage):
                break
            else:
                return None
        target = urlsplit(start.target.decode())
        return HttpRequest(
            method=start.method.decode(),
            path=target.path,
            query=parse_qs(target.query),
            headers={name.decode().lower(): value.decode() for name, value in start.headers},
            body=b"".join(parts),
        )

    @staticmethod
    def _encode_response(connection: h11.Connection, response: HttpResponse) -> bytes:
        headers = [*response.headers, ("content-length", str(len(response.body)))]
        return b"".join(
            (
                connection.send(h11.Response(status_code=response.status, headers=headers)) or b"",
                connection.send(h11.Data(data=response.body)) or b"",
                connection.send(h11.EndOfMessage()) or b"",
            )
        )

    # -- capture -------------------------------------------------------------------------------

    async def _capture(self, request: HttpRequest) -> HttpResponse | None:
        arrived = time.monotonic()
        request_id = next(self._request_ids)
        fault = self._next_fault(request_id)
        delay = (fault.delay if fault else 0.0) or self.default_delay
        if delay:
            await asyncio.sleep(delay)
        compressed = request.body[:3] == GZIP_MAGIC or "gzip" in "".join(
            request.query.get("compression", [])
        )
        if fault is not None and (fault.drop or fault.status is not None):
            self._log(
                ReceivedRequest(
                    request_id,
                    request.path,
                    0 if fault.drop else fault.status or 0,
                    0,
                    compressed,
                    arrived,
                    time.monotonic(),
                )
            )
            if fault.drop:
                return None
            headers = (("retry-after", fault.retry_after),) if fault.retry_after else ()
            return _json_response(
                fault.status or 500,
                {"status": fault.status, "code": "injected_fault", "error": "injected fault"},
                headers,
            )
        try:
            outcome = self._accept(request, request_id, compressed, arrived)
        except _Rejected as rejected:
            self._log(
                ReceivedRequest(
                    request_id,
                    request.path,
                    rejected.status,
                    0,
                    compressed,
                    arrived,
                    time.monotonic(),
                )
            )
            return _json_response(
                rejected.status,
                {"status": rejected.status, "code": rejected.code, "error": rejected.message},
            )
        self._log(outcome)
        return _json_response(200, {"status": "Ok"})

    def _log(self, request: ReceivedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _decode(self, request: HttpRequest, compressed: bool) -> bytes:
        body = request.body
        if len(body) > BATCH_BODY_LIMIT:
            raise _Rejected(413, "payload_too_large", "request body is over 20 MiB")
        if not compressed:
            return body
        decompressor = isal_zlib.decompressobj(16 + isal_zlib.MAX_WBITS)
        try:
            data = decompressor.decompress(body, DECOMPRESSED_LIMIT + 1)
        except isal_zlib.error as error:
            raise _Rejected(
                400, "request_decoding_error", f"failed to decompress: {error}"
            ) from None
        if len(data) > DECOMPRESSED_LIMIT or decompressor.unconsumed_tail:
            raise _Rejected(413, "event_too_big", "decompressed payload is too large")
        return data

    def _accept(
        self, request: HttpRequest, request_id: int, compressed: bool, arrived: float
    ) -> ReceivedRequest:
        data = self._decode(request, compressed)
        try:
            parsed = _decode_request(data)
        except msgspec.DecodeError as error:
            raise _decoding_error(str(error)) from None
        sent_at = None
        historical = False
        if isinstance(parsed, list):
            events = parsed
            tokens = {_token_of(event) for event in events}
            if len(tokens) > 1:
                raise _Rejected(
                    400, "multiple_tokens", "batch contains events with different tokens"
                )
            token = tokens.pop() if tokens else None
        elif parsed.batch is not msgspec.UNSET:
            events = parsed.batch
            token = parsed.token if parsed.token is not None else parsed.api_key
            sent_at = parsed.sent_at
            if parsed.historical_migration not in (None, True, False):
                raise _decoding_error("historical_migration is not a boolean")
            historical = bool(parsed.historical_migration)
        else:
            events = [parsed]
            token = _token_of(parsed)
        self._check_token(token)
        if not events:
            raise _Rejected(400, "empty_batch", "batch is empty")
        checked = [_check_event(event) for event in events]  # the first invalid event raises
        limit = self.event_size_limit
        if len(data) > limit and any(len(raw) > limit for raw in self._raw_events(data)):
            raise _Rejected(413, "event_too_big", f"event is over {limit} bytes")
        self._store(
            data, events, checked, request_id=request_id, historical=historical, sent_at=sent_at
        )
        return ReceivedRequest(
            request_id,
            request.path,
            200,
            len(events),
            compressed,
            arrived,
            time.monotonic(),
            token,
            historical,
            sent_at is not None,
            data if self.keep_bodies else None,
        )

    def _check_token(self, token: Any) -> None:
        if not isinstance(token, str) or not token:
            raise _Rejected(401, "no_token", "API key is missing")
        if token.startswith("phx_"):
            raise _Rejected(401, "token_validation", "personal API keys (phx_) are not accepted")
        if token not in self.tokens:
            raise _Rejected(403, "invalid_token", "project API key is invalid")

    @staticmethod
    def _raw_events(data: bytes) -> list[msgspec.Raw]:
        raw = _decode_raw_events(data)
        if isinstance(raw, list):
            return raw
        return [msgspec.Raw(data)] if raw.batch is msgspec.UNSET else raw.batch

    def _store(
        self,
        data: bytes,
        events: list[_WireEvent],
        checked: list[tuple[str, str]],
        *,
        request_id: int,
        historical: bool,
        sent_at: str | None,
    ) -> None:
        kept = [not self.lost_to_quota(event.uuid) for event in events]
        if self.record == "full":
            # Tests want the events as dicts; decode them fully (only here, it costs).
            body = orjson.loads(data)
            bodies = body if isinstance(body, list) else body.get("batch", [body])
            now = dt.datetime.now(dt.UTC)
            received = [
                ReceivedEvent(
                    event.get("uuid") or None,
                    name,
                    distinct_id,
                    event.get("timestamp"),
                    historical,
                    sent_at,
                    request_id,
                    now,
                    event,
                )
                for event, (name, distinct_id), keep in zip(bodies, checked, kept, strict=True)
                if keep
            ]
        with self._lock:
            self._event_count += sum(kept)
            self._dropped += len(kept) - sum(kept)
            if self.record == "full":
                self._events.extend(received)
            elif self.record == "uuids":
                self._uuid_log.append(
                    event.uuid or "" for event, keep in zip(events, kept, strict=True) if keep
                )

    def lost_to_quota(self, uuid: Any) -> bool:
        """Whether drop_fraction loses this event: decided by its uuid, so a re-send is lost
        again, as it would be while the project stays over its quota."""
        if not self.drop_fraction:
            return False
        return zlib.crc32(str(uuid).encode()) % 1_000_000 < self.drop_fraction * 1_000_000

    # -- query API -----------------------------------------------------------------------------

    async def _query(self, request: HttpRequest) -> HttpResponse:
        try:
            parsed = self._authorized_query(request)
        except _ApiError as error:
            return _json_response(
                error.status,
                {"type": error.kind, "code": error.code, "detail": error.detail, "attr": None},
            )
        with self._lock:
            self._queries.append(orjson.loads(request.body))
        return _json_response(200, query_api.answer(parsed, self._ingested()))

    def _authorized_query(self, request: HttpRequest) -> query_api.CountQuery:
        """The query, once the request passed the checks PostHog's API makes, in its order."""
        project = _QUERY_PATH.fullmatch(request.path)
        assert project is not None
        if request.method != "POST":
            raise _ApiError(405, "invalid_request", "method_not_allowed", "Use POST.")
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if not key:
            raise _ApiError(
                401,
                "authentication_error",
                "not_authenticated",
                "Authentication credentials were not provided.",
            )
        if scheme.lower() != "bearer" or key.strip() not in self.personal_api_keys:
            raise _ApiError(
                401,
                "authentication_error",
                "authentication_failed",
                "Personal API key found in request Authorization header is invalid.",
            )
        if project["project"] != self.project_id:
            raise _ApiError(404, "invalid_request", "not_found", "Not found.")
        try:
            query = orjson.loads(request.body)["query"]
            kind, text = query["kind"], query["query"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            raise _ApiError(
                400, "validation_error", "invalid_input", "Expected {query: {kind, query}}."
            ) from None
        if kind != "HogQLQuery":
            raise _ApiError(400, "validation_error", "invalid_input", f"Unsupported kind {kind}.")
        try:
            return query_api.parse_count_query(text)
        except query_api.UnsupportedQuery as error:
            raise _ApiError(400, "validation_error", "query_error", str(error)) from None

    def _ingested(self) -> list[query_api.StoredEvent]:
        """Stored events old enough to have gone through ingestion."""
        if self.record != "full":
            raise RuntimeError("the query API needs record='full'")
        visible_before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=self.ingestion_lag)
        return [
            query_api.StoredEvent(
                event.uuid, event.event, event.distinct_id, effective_timestamp(event)
            )
            for event in self.events
            if event.received_at <= visible_before
        ]

    # -- admin (for a server in another process) -----------------------------------------------

    async def _admin_stats(self, request: HttpRequest) -> HttpResponse:
        return _json_response(200, self.stats())

    async def _admin_faults(self, request: HttpRequest) -> HttpResponse:
        """Body: {"faults": [{"status", "retry_after", "delay", "drop"}...], "times": n,
        "default_delay": seconds}."""
        spec = orjson.loads(request.body or b"{}")
        if "default_delay" in spec:
            self.default_delay = float(spec["default_delay"])
        self.inject(
            *(Fault.from_dict(item) for item in spec.get("faults", [])), times=spec.get("times", 1)
        )
        return _json_response(200, {"status": "Ok"})

    async def _admin_reset(self, request: HttpRequest) -> HttpResponse:
        self.reset()
        return _json_response(200, {"status": "Ok"})


def _serve_until_signalled(
    server: CaptureServer, sock: socket.socket | None, announce: bool
) -> None:
    async def run() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, server.stop)
        ready = (lambda: print(f"listening on {server.url}", flush=True)) if announce else None
        await server.serve(ready, sock)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", action="append", help="accepted project token (repeatable)")
    parser.add_argument("--record", choices=["full", "uuids", "count"], default="uuids")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes accepting on the same port (benchmarks; needs --record uuids). Each "
        "worker keeps its own fault queue, so program faults with one worker.",
    )
    arguments = parser.parse_args(argv)
    tokens = arguments.token or ["phc_test"]
    if arguments.workers == 1:
        server = CaptureServer(
            tokens, host=arguments.host, port=arguments.port, record=arguments.record
        )
        _serve_until_signalled(server, None, announce=True)
        return
    if arguments.record != "uuids":
        parser.error("--workers needs --record uuids")
    sock = socket.create_server((arguments.host, arguments.port), backlog=128)
    with tempfile.TemporaryDirectory(prefix="capture-server-") as record_dir:
        children = []
        for _ in range(arguments.workers):
            pid = os.fork()
            if pid == 0:
                worker = CaptureServer(
                    tokens, host=arguments.host, record="uuids", record_dir=Path(record_dir)
                )
                _serve_until_signalled(worker, sock, announce=False)
                os._exit(0)
            children.append(pid)
        stop_signals = {signal.SIGINT, signal.SIGTERM}
        signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
        print(f"listening on http://{arguments.host}:{sock.getsockname()[1]}", flush=True)
        signal.sigwait(stop_signals)
        for pid in children:
            os.kill(pid, signal.SIGTERM)
        for pid in children:
            os.waitpid(pid, 0)


if __name__ == "__main__":
    main()
