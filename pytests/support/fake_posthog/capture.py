"""Capture's v0 rules for /batch/, as PostHog/posthog's rust/capture applies them (v0_request.rs,
events/analytics.rs, api.rs): what a request must be for its events to be accepted.

- the Batch ({api_key|token, historical_migration, sent_at, batch}), Array and One body shapes;
- token checks: missing → 401, personal key (phx_) → 401, not in the configured set → 403;
- gzip detected by its magic bytes whatever the headers say (or ?compression=gzip);
- 20 MiB body limit → 413; an event over 1,000,000 bytes → 413;
- one invalid event (empty name, missing/empty distinct_id, bad uuid, undecodable JSON, a number
  out of f64's range such as 1e999) or an empty batch rejects the whole request with 400 and stores
  nothing.
"""

from __future__ import annotations

import re
import sys
import uuid as uuid_module
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import msgspec
import orjson
from isal import isal_zlib

from support.fake_posthog.http import HttpRequest, HttpResponse, json_response

BATCH_BODY_LIMIT = 20 * 1024 * 1024
DECOMPRESSED_LIMIT = 5 * BATCH_BODY_LIMIT
EVENT_SIZE_LIMIT = 1_000_000
DISTINCT_ID_MAX_CHARS = 200
GZIP_MAGIC = b"\x1f\x8b\x08"
_HYPHENATED_UUID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
# Where a JSON number past f64's range may start: after `:`, `,` or `[`, with a 3-digit positive
# exponent or 309 digits. Only bodies with one are parsed again in full (skipped fields are not
# parsed as numbers by the first pass).
_HUGE_NUMBER = re.compile(
    rb"[:,\[]\s*-?[0-9]+(?:\.[0-9]*)?[eE]\+?0*[1-9][0-9]{2}|[:,\[]\s*-?[0-9]{309}"
)


class Rejected(Exception):
    """A request capture refuses, with the answer it gives."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self) -> HttpResponse:
        return json_response(
            self.status, {"status": self.status, "code": self.code, "error": self.message}
        )


class _WireProperties(msgspec.Struct):
    """The few properties capture itself reads; the rest are validated JSON, then skipped."""

    distinct_id: Any = None
    token: Any = None
    cookieless_mode: Any = msgspec.field(default=None, name="$cookieless_mode")


class WireEvent(msgspec.Struct):
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


class _WireObject(WireEvent):
    """A JSON object body: the Batch envelope when it has `batch`, otherwise a single event."""

    batch: list[WireEvent] | msgspec.UnsetType = msgspec.UNSET
    historical_migration: Any = None
    sent_at: Any = None


class _RawEnvelope(msgspec.Struct):
    batch: list[msgspec.Raw] | msgspec.UnsetType = msgspec.UNSET


# msgspec validates the whole JSON text (strictly, like serde_json) but only builds what capture
# looks at; that keeps this server fast enough to measure the loader rather than itself.
_decode_request = msgspec.json.Decoder(_WireObject | list[WireEvent]).decode
_decode_raw_events = msgspec.json.Decoder(_RawEnvelope | list[msgspec.Raw]).decode


@dataclass(frozen=True)
class AcceptedBatch:
    """A request capture accepts: its decompressed body, events and what the envelope said."""

    data: bytes
    events: list[WireEvent]
    # (event name, distinct_id as capture stores it), per event.
    checked: list[tuple[str, str]]
    token: str
    historical: bool
    sent_at: str | None
    compressed: bool


def decoding_error(detail: str) -> Rejected:
    return Rejected(400, "request_decoding_error", f"failed to decode request: {detail}")


def _valid_uuid(value: str) -> bool:
    if _HYPHENATED_UUID.fullmatch(value):
        return True
    try:  # braced, urn:uuid: and simple forms, as Rust's uuid crate accepts
        uuid_module.UUID(value)
    except ValueError:
        return False
    return True


def _distinct_id(event: WireEvent) -> str:
    """capture-rs extract_distinct_id: top level first, then properties; stringified, cut at 200."""
    value = event.distinct_id
    if value is None:
        value = event.dollar_distinct_id
    if value is None and event.properties is not None:
        value = event.properties.distinct_id
    if value is None or value == "":
        raise Rejected(400, "missing_distinct_id", "missing distinct_id")
    if not isinstance(value, str):
        value = orjson.dumps(value).decode()
    return value.replace("\0", "\ufffd")[:DISTINCT_ID_MAX_CHARS]


def _check_event(event: WireEvent) -> tuple[str, str]:
    """Validate one event like capture's process_single_event; returns (event name, distinct_id)."""
    name = event.event
    if not isinstance(name, str):
        raise decoding_error("missing field `event`")
    if not name:
        raise Rejected(400, "missing_event_name", "missing event name")
    if event.properties is not None and event.properties.cookieless_mode not in (None, True, False):
        raise Rejected(400, "invalid_cookieless_mode", "invalid $cookieless_mode")
    if event.timestamp is not None and not isinstance(event.timestamp, str):
        raise decoding_error("invalid timestamp")
    uuid = event.uuid
    if uuid not in (None, "") and not (isinstance(uuid, str) and _valid_uuid(uuid)):
        raise decoding_error(f"invalid uuid {uuid!r}")
    return name, _distinct_id(event)


def _token_of(event: WireEvent) -> Any:
    for value in (event.token, event.api_key, event.dollar_token):
        if value is not None:
            return value
    return event.properties.token if event.properties is not None else None


def _check_numbers_in_range(data: bytes) -> None:
    """serde_json refuses a number past f64's range, such as 1e999 ("number out of range")."""
    if _HUGE_NUMBER.search(data) is None:
        return
    try:
        document = msgspec.json.decode(data)  # refuses 1e999; reads 1 and 309 zeros as an int
    except msgspec.DecodeError as error:
        raise decoding_error(str(error)) from None
    pending = [document]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, int) and abs(value) > sys.float_info.max:
            raise decoding_error("number out of range")


def _raw_events(data: bytes) -> list[msgspec.Raw]:
    raw = _decode_raw_events(data)
    if isinstance(raw, list):
        return raw
    return [msgspec.Raw(data)] if raw.batch is msgspec.UNSET else raw.batch


class CaptureRules:
    """Decide whether capture accepts a request; `tokens` and `event_size_limit` may change while
    serving (tests tighten them)."""

    def __init__(self, tokens: Iterable[str], event_size_limit: int) -> None:
        self.tokens = set(tokens)
        self.event_size_limit = event_size_limit

    @staticmethod
    def compressed(request: HttpRequest) -> bool:
        return request.body[:3] == GZIP_MAGIC or "gzip" in "".join(
            request.query.get("compression", [])
        )

    def accept(self, request: HttpRequest) -> AcceptedBatch:
        """The accepted batch, or Rejected with capture's answer."""
        compressed = self.compressed(request)
        data = self._decode(request.body, compressed)
        try:
            parsed = _decode_request(data)
        except msgspec.DecodeError as error:
            raise decoding_error(str(error)) from None
        _check_numbers_in_range(data)
        sent_at = None
        historical = False
        if isinstance(parsed, list):
            events = parsed
            tokens = {_token_of(event) for event in events}
            if len(tokens) > 1:
                raise Rejected(
                    400, "multiple_tokens", "batch contains events with different tokens"
                )
            token = tokens.pop() if tokens else None
        elif parsed.batch is not msgspec.UNSET:
            events = parsed.batch
            token = parsed.token if parsed.token is not None else parsed.api_key
            sent_at = parsed.sent_at
            if parsed.historical_migration not in (None, True, False):
                raise decoding_error("historical_migration is not a boolean")
            historical = bool(parsed.historical_migration)
        else:
            events = [parsed]
            token = _token_of(parsed)
        self._check_token(token)
        if not events:
            raise Rejected(400, "empty_batch", "batch is empty")
        checked = [_check_event(event) for event in events]  # the first invalid event raises
        limit = self.event_size_limit
        if len(data) > limit and any(len(raw) > limit for raw in _raw_events(data)):
            raise Rejected(413, "event_too_big", f"event is over {limit} bytes")
        return AcceptedBatch(data, events, checked, token, historical, sent_at, compressed)

    def readable_body(self, request: HttpRequest) -> bytes:
        """The request body decompressed, or as it came if it cannot be."""
        try:
            return self._decode(request.body, self.compressed(request))
        except Rejected:
            return request.body

    @staticmethod
    def _decode(body: bytes, compressed: bool) -> bytes:
        if len(body) > BATCH_BODY_LIMIT:
            raise Rejected(413, "payload_too_large", "request body is over 20 MiB")
        if not compressed:
            return body
        decompressor = isal_zlib.decompressobj(16 + isal_zlib.MAX_WBITS)
        try:
            data = decompressor.decompress(body, DECOMPRESSED_LIMIT + 1)
        except isal_zlib.error as error:
            raise Rejected(
                400, "request_decoding_error", f"failed to decompress: {error}"
            ) from None
        if len(data) > DECOMPRESSED_LIMIT or decompressor.unconsumed_tail:
            raise Rejected(413, "event_too_big", "decompressed payload is too large")
        return data

    def _check_token(self, token: Any) -> None:
        if not isinstance(token, str) or not token:
            raise Rejected(401, "no_token", "API key is missing")
        if token.startswith("phx_"):
            raise Rejected(401, "token_validation", "personal API keys (phx_) are not accepted")
        if token not in self.tokens:
            raise Rejected(403, "invalid_token", "project API key is invalid")
