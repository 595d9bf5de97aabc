"""Validate rows against PostHog's capture contract and cut them into request batches.

Everything per row is vectorized (Arrow compute and numpy): the Python loop runs once per request
batch, not once per event, which is what lets one core feed capture at hundreds of thousands of
events per second.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from posthog_loader.read import ROW_COLUMNS, Position

# PostHog's Kafka producer refuses messages over 1,000,000 bytes, failing the whole request.
MAX_EVENT_BYTES = 1_000_000
# Capture v0 silently cuts longer distinct_ids, which splits persons and breaks deduplication.
MAX_DISTINCT_ID_CHARS = 200
# Room kept in --batch-bytes for {"api_key":...,"historical_migration":...,"batch":[...]}.
ENVELOPE_BYTES = 256
# What PostHog's events table can store: it sorts and deduplicates by toDate(timestamp), and
# ClickHouse's Date spans 1970-01-01 to 2149-06-06 (ingestion also turns years past 9999 into now).
STORABLE_FROM = dt.datetime(1970, 1, 1)
STORABLE_UNTIL = dt.datetime(2149, 6, 6, 23, 59, 59, 999999)
# Where a JSON number past f64's range (1e999; capture's serde_json refuses the whole request)
# may start: after `:`, `,` or `[`, with a 3-digit positive exponent or 309 digits. Only payloads
# holding one are parsed in full; skipped fields are not parsed as numbers otherwise.
_HUGE_NUMBER = re.compile(
    rb"[:,\[]\s*-?[0-9]+(?:\.[0-9]*)?[eE]\+?0*[1-9][0-9]{2}|[:,\[]\s*-?[0-9]{309}"
)
_CANONICAL_UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


class Reason(StrEnum):
    """Why a row was quarantined instead of delivered."""

    INVALID_PAYLOAD = "invalid_payload"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    INVALID_UUID = "invalid_uuid"
    EMPTY_EVENT = "empty_event"
    EMPTY_DISTINCT_ID = "empty_distinct_id"
    DISTINCT_ID_TOO_LONG = "distinct_id_too_long"
    TIMESTAMP_OUT_OF_RANGE = "timestamp_out_of_range"
    REJECTED_BY_POSTHOG = "rejected_by_posthog"
    TOO_LARGE_FOR_POSTHOG = "too_large_for_posthog"


# Reasons that are PostHog's answers, not local checks: rows `--retry-quarantined` sends again.
POSTHOG_REFUSALS = frozenset({Reason.REJECTED_BY_POSTHOG, Reason.TOO_LARGE_FOR_POSTHOG})

# Local checks, most fundamental first: a row is reported under the first one it fails.
_CHECK_ORDER = (
    Reason.INVALID_PAYLOAD,
    Reason.PAYLOAD_TOO_LARGE,
    Reason.INVALID_UUID,
    Reason.EMPTY_EVENT,
    Reason.EMPTY_DISTINCT_ID,
    Reason.DISTINCT_ID_TOO_LONG,
    Reason.TIMESTAMP_OUT_OF_RANGE,
)
_EXPLANATIONS = {
    Reason.INVALID_PAYLOAD: "payload is missing",
    Reason.PAYLOAD_TOO_LARGE: f"payload is over PostHog's {MAX_EVENT_BYTES:,}-byte event limit",
    Reason.INVALID_UUID: "uuid is not a canonical UUID (8-4-4-4-12 hex digits)",
    Reason.EMPTY_EVENT: "event name is empty",
    Reason.EMPTY_DISTINCT_ID: "distinct_id is empty",
    Reason.DISTINCT_ID_TOO_LONG: (
        f"distinct_id is over {MAX_DISTINCT_ID_CHARS} characters; PostHog would silently cut it"
    ),
    Reason.TIMESTAMP_OUT_OF_RANGE: (
        f"timestamp is before {STORABLE_FROM:%Y-%m-%d} or after {STORABLE_UNTIL:%Y-%m-%d} (UTC): "
        "PostHog's events table cannot store it"
    ),
}


@dataclass(frozen=True)
class QuarantinedRow:
    uuid: str | None
    event: str | None
    distinct_id: str | None
    timestamp: dt.datetime | None
    payload: str | None
    reason: Reason
    detail: str


def quarantine(
    rows: pa.Table, reasons: Sequence[Reason], details: Sequence[str] | None = None
) -> list[QuarantinedRow]:
    """Turn rows into quarantine records; details default to each reason's explanation."""
    explained = details or [_EXPLANATIONS[reason] for reason in reasons]
    return [
        QuarantinedRow(
            uuid=row["uuid"],
            event=row["event"],
            distinct_id=row["distinct_id"],
            timestamp=row["timestamp"],
            payload=row["payload"],
            reason=reason,
            detail=detail,
        )
        for row, reason, detail in zip(
            rows.select(ROW_COLUMNS).to_pylist(), reasons, explained, strict=True
        )
    ]


def _failed(mask: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Boolean numpy array: True where the check failed (null counts as failed)."""
    return np.asarray(pc.invert(pc.fill_null(mask, False)))


def reason_codes(batch: pa.RecordBatch) -> np.ndarray:
    """Per row: 0 if the row may be sent, else 1 + the _CHECK_ORDER index of its first failure."""
    payload, uuid, timestamp = (
        batch.column("payload"),
        batch.column("uuid"),
        batch.column("timestamp"),
    )
    distinct_id_length = pc.utf8_length(batch.column("distinct_id"))
    passed = {
        # Null here; malformed JSON is caught when the request body is checked (build_body).
        Reason.INVALID_PAYLOAD: pc.is_valid(payload),
        Reason.PAYLOAD_TOO_LARGE: pc.less_equal(pc.binary_length(payload), MAX_EVENT_BYTES),
        Reason.INVALID_UUID: pc.match_substring_regex(uuid, _CANONICAL_UUID),
        Reason.EMPTY_EVENT: pc.greater(pc.utf8_length(batch.column("event")), 0),
        Reason.EMPTY_DISTINCT_ID: pc.greater(distinct_id_length, 0),
        Reason.DISTINCT_ID_TOO_LONG: pc.fill_null(
            pc.less_equal(distinct_id_length, MAX_DISTINCT_ID_CHARS), True
        ),
        Reason.TIMESTAMP_OUT_OF_RANGE: pc.fill_null(
            pc.and_(
                pc.greater_equal(timestamp, pa.scalar(STORABLE_FROM, timestamp.type)),
                pc.less_equal(timestamp, pa.scalar(STORABLE_UNTIL, timestamp.type)),
            ),
            True,
        ),
    }
    codes = np.zeros(batch.num_rows, dtype=np.int8)
    # Least fundamental first, so a row failing several checks keeps the most fundamental reason.
    for code, reason in reversed(list(enumerate(_CHECK_ORDER, start=1))):
        codes[_failed(passed[reason])] = code
    return codes


BODY_END = b"]}"


def body_header(api_key_json: bytes, historical: bool) -> bytes:
    """The /batch/ body up to its first event."""
    flag = b"true" if historical else b"false"
    return b'{"api_key":' + api_key_json + b',"historical_migration":' + flag + b',"batch":['


def render_body(payloads: pa.ChunkedArray | pa.Array, header: bytes) -> bytes:
    """The /batch/ body, spliced from the payload bytes exactly as the warehouse made them."""
    return header + b",".join(payloads.cast(pa.binary()).to_pylist()) + BODY_END


@dataclass(frozen=True)
class BodyLayout:
    """Where each event sits in a request body, so the body can be split without keeping rows."""

    header: bytes
    starts: np.ndarray
    lengths: np.ndarray

    @classmethod
    def of(cls, payloads: pa.ChunkedArray | pa.Array, header: bytes) -> BodyLayout:
        lengths = np.asarray(pc.binary_length(payloads), dtype=np.int64)
        # Each payload is followed by a comma, the last by BODY_END.
        starts = len(header) + np.concatenate(([0], np.cumsum(lengths[:-1] + 1)))
        return cls(header, starts, lengths)

    def payload(self, body: bytes, index: int) -> str:
        start = int(self.starts[index])
        return body[start : start + int(self.lengths[index])].decode()

    def cut(self, body: bytes, start: int, stop: int) -> tuple[bytes, BodyLayout]:
        """The body of events [start, stop) alone, and its layout: a slice, nothing re-rendered."""
        first = int(self.starts[start])
        last = int(self.starts[stop - 1] + self.lengths[stop - 1])
        part = self.header + body[first:last] + BODY_END
        starts = self.starts[start:stop] - first + len(self.header)
        return part, BodyLayout(self.header, starts, self.lengths[start:stop])


class _Event(msgspec.Struct):
    """A payload must be exactly one JSON object; what is inside is PostHog's to judge."""


class _Body(msgspec.Struct):
    batch: list[_Event]


# Strict JSON, as PostHog's serde_json: no NaN, no trailing commas, no lone surrogates.
_decode_body = msgspec.json.Decoder(_Body).decode
_decode_event = msgspec.json.Decoder(_Event).decode


@dataclass(frozen=True)
class CheckedBody:
    """A request body ready to send (None when no row was valid), the rows it holds, and the
    rows quarantined while building it."""

    body: bytes | None
    layout: BodyLayout | None
    rows: pa.Table
    quarantined: list[QuarantinedRow]


def build_body(rows: pa.Table, header: bytes) -> CheckedBody:
    """Render the request and check it parses as exactly these events, one object per payload.

    Splicing raw payloads is only safe if each is one well-formed object: a malformed one would fail
    the whole request, and one holding `{...},{...}` would smuggle in an extra event. The check runs
    once over the whole body; only when it fails are payloads checked one by one and the bad ones
    quarantined.
    """
    if not rows.num_rows:  # every row of the batch was quarantined locally
        return CheckedBody(None, None, rows, [])
    body = render_body(rows.column("payload"), header)
    with contextlib.suppress(msgspec.DecodeError):
        if len(_decode_body(body).batch) == rows.num_rows and not _HUGE_NUMBER.search(body):
            return CheckedBody(body, BodyLayout.of(rows.column("payload"), header), rows, [])
    problems = [_payload_problem(payload) for payload in rows.column("payload").to_pylist()]
    bad = pa.array([problem is not None for problem in problems])
    quarantined = quarantine(
        rows.filter(bad),
        [Reason.INVALID_PAYLOAD] * sum(problem is not None for problem in problems),
        [
            f"payload is not one JSON object PostHog accepts: {problem}"
            for problem in problems
            if problem
        ],
    )
    good = rows.filter(pc.invert(bad))
    if not good.num_rows:
        return CheckedBody(None, None, good, quarantined)
    payloads = good.column("payload")
    return CheckedBody(
        render_body(payloads, header), BodyLayout.of(payloads, header), good, quarantined
    )


def _payload_problem(payload: str) -> str | None:
    try:
        _decode_event(payload)
        if _HUGE_NUMBER.search(payload.encode()):
            return _number_out_of_range(msgspec.json.decode(payload))
    except msgspec.DecodeError as error:
        return str(error)  # msgspec refuses 1e999 itself ("Number out of range")
    return None


def _number_out_of_range(document: object) -> str | None:
    """An integer past f64's range (310 digits): serde_json reads it as a float, infinite."""
    pending = [document]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, int) and abs(value) > sys.float_info.max:
            return "Number out of range"
    return None


@dataclass(frozen=True)
class BatchLimits:
    max_events: int
    max_bytes: int


@dataclass
class RequestBatch:
    """A contiguous run of source rows: valid ones go in one request, the rest to quarantine."""

    seq: int
    historical: bool
    rows: pa.Table
    quarantined: list[QuarantinedRow]
    first_timestamp: dt.datetime
    end: Position
    rows_read: int


@dataclass
class _Pending:
    historical: bool
    slices: list[pa.RecordBatch] = field(default_factory=list)
    events: int = 0
    payload_bytes: int = 0


class Batcher:
    """Cuts ordered, validated rows into request batches bounded by events and bytes.

    With `live_from` set, rows at or after it (the last ones, since rows arrive in timestamp order)
    go in separate batches flagged historical=False.
    """

    def __init__(self, limits: BatchLimits, live_from: dt.datetime | None) -> None:
        self._max_events = limits.max_events
        self._max_payload_bytes = max(1, limits.max_bytes - ENVELOPE_BYTES)
        self._live_from = live_from
        self._seq = 0

    def batches(self, record_batches: Iterable[pa.RecordBatch]) -> Iterator[RequestBatch]:
        pending: _Pending | None = None
        for record_batch in record_batches:
            codes = reason_codes(record_batch)
            batch = record_batch.append_column("reason_code", pa.array(codes))
            valid = codes == 0
            # One comma per event; invalid rows cost nothing, they only ride along for position.
            costs = np.where(
                valid, np.asarray(pc.binary_length(batch.column("payload")).fill_null(0)) + 1, 0
            )
            cumulative_bytes = np.cumsum(costs)
            cumulative_events = np.cumsum(valid)
            lane_start = self._first_live_row(batch)
            start = 0
            while start < batch.num_rows:
                historical = start < lane_start
                lane_end = lane_start if historical else batch.num_rows
                if pending is not None and pending.historical != historical:
                    yield self._flush(pending)
                    pending = None
                if pending is None:
                    pending = _Pending(historical)
                base_events = cumulative_events[start - 1] if start else 0
                base_bytes = cumulative_bytes[start - 1] if start else 0
                fits_events = np.searchsorted(
                    cumulative_events[start:lane_end],
                    base_events + self._max_events - pending.events,
                    side="right",
                )
                fits_bytes = np.searchsorted(
                    cumulative_bytes[start:lane_end],
                    base_bytes + self._max_payload_bytes - pending.payload_bytes,
                    side="right",
                )
                take = int(min(fits_events, fits_bytes))
                if take == 0 and pending.events:
                    yield self._flush(pending)
                    pending = None
                    continue
                # A lone event over the byte budget (but under PostHog's limit) goes on its own.
                take = max(take, 1)
                stop = start + take
                pending.slices.append(batch.slice(start, take))
                pending.events += int(cumulative_events[stop - 1] - base_events)
                pending.payload_bytes += int(cumulative_bytes[stop - 1] - base_bytes)
                start = stop
                if start < lane_end:
                    yield self._flush(pending)
                    pending = None
        if pending is not None and pending.slices:
            yield self._flush(pending)

    def _first_live_row(self, batch: pa.RecordBatch) -> int:
        if self._live_from is None:
            return batch.num_rows
        timestamps = np.asarray(batch.column("timestamp").cast(pa.int64()))
        live_from = np.datetime64(self._live_from, "us").astype(np.int64)
        return int(np.searchsorted(timestamps, live_from, side="left"))

    def _flush(self, pending: _Pending) -> RequestBatch:
        table = pa.Table.from_batches(pending.slices)
        codes = np.asarray(table.column("reason_code").combine_chunks())
        invalid = codes != 0
        rows = table.select(ROW_COLUMNS)
        quarantined: list[QuarantinedRow] = []
        if invalid.any():
            mask = pa.array(invalid)
            reasons = [_CHECK_ORDER[code - 1] for code in codes[invalid]]
            quarantined = quarantine(rows.filter(mask), reasons)
            rows = rows.filter(pc.invert(mask))
        last = table.slice(table.num_rows - 1).select(["timestamp", "uuid"]).to_pylist()[0]
        batch = RequestBatch(
            seq=self._seq,
            historical=pending.historical,
            rows=rows,
            quarantined=quarantined,
            first_timestamp=table.column("timestamp")[0].as_py(),
            end=Position(last["timestamp"], last["uuid"] or ""),
            rows_read=table.num_rows,
        )
        self._seq += 1
        return batch
