"""Which contract-view rows PostHog would refuse, and why: the checks both lanes run before a row
leaves (a capture request or an export part), so a refused row is quarantined instead of failing the
request, or pausing a managed import, that carries it.

Every check is vectorized (Arrow compute and numpy): Python runs once per batch, not once per row.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from posthog_loader.read import ROW_COLUMNS

# PostHog's Kafka producer refuses messages over 1,000,000 bytes, failing the whole request.
MAX_EVENT_BYTES = 1_000_000
# Capture v0 silently cuts longer distinct_ids, which splits persons and breaks deduplication.
MAX_DISTINCT_ID_CHARS = 200
# What PostHog's events table can store: it sorts and deduplicates by toDate(timestamp), and
# ClickHouse's Date spans 1970-01-01 to 2149-06-06 (ingestion also turns years past 9999 into now).
STORABLE_FROM = dt.datetime(1970, 1, 1)
STORABLE_UNTIL = dt.datetime(2149, 6, 6, 23, 59, 59, 999999)
# Where a JSON number past f64's range (1e999: capture's serde_json refuses the whole request) may
# start: after `:`, `,` or `[`, with a 3-digit positive exponent or 309 digits. Only payloads
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
    DUPLICATE_UUID = "duplicate_uuid"
    REJECTED_BY_POSTHOG = "rejected_by_posthog"
    TOO_LARGE_FOR_POSTHOG = "too_large_for_posthog"


# Reasons that are PostHog's answers, not local checks (verify still expects these rows).
POSTHOG_REFUSALS = frozenset({Reason.REJECTED_BY_POSTHOG, Reason.TOO_LARGE_FOR_POSTHOG})

# Local checks, most fundamental first: a row is reported under the first one it fails.
CHECK_ORDER = (
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
    Reason.DUPLICATE_UUID: (
        "another row of this view has the same uuid (PostHog's deduplication key) and went "
        "first; PostHog refuses a batch holding a uuid twice and keeps one event per uuid"
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
    """Per row: 0 if the row may be sent, else 1 + the CHECK_ORDER index of its first failure."""
    payload, uuid, timestamp = (
        batch.column("payload"),
        batch.column("uuid"),
        batch.column("timestamp"),
    )
    distinct_id_length = pc.utf8_length(batch.column("distinct_id"))
    passed = {
        # Null here; malformed JSON is caught when the request or part is rendered.
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
    for code, reason in reversed(list(enumerate(CHECK_ORDER, start=1))):
        codes[_failed(passed[reason])] = code
    return codes


def repeated_uuids(uuids: pa.ChunkedArray | pa.Array, candidates: np.ndarray) -> np.ndarray:
    """Among the `candidates` rows, those whose uuid an earlier candidate already has."""
    repeated = np.zeros(len(candidates), dtype=bool)
    indices = np.flatnonzero(candidates)
    if len(indices) < 2:
        return repeated
    encoded = pc.dictionary_encode(pc.take(uuids, pa.array(indices))).combine_chunks()
    if len(encoded.dictionary) == len(indices):  # the usual case: no repeat, one hash pass
        return repeated
    _, first = np.unique(np.asarray(encoded.indices), return_index=True)
    later = np.ones(len(indices), dtype=bool)
    later[first] = False
    repeated[indices[later]] = True
    return repeated


class _Event(msgspec.Struct):
    """A payload must be exactly one JSON object; what is inside is PostHog's to judge."""


# Strict JSON, as PostHog's serde_json: no NaN, no trailing commas, no lone surrogates.
_event_decoder = msgspec.json.Decoder(_Event)
_LINE_BREAK = "it holds a line break, which would cut it in two in a JSON-lines file"


def json_lines(payloads: pa.ChunkedArray) -> bytearray | None:
    """The payloads as JSON lines (each followed by a newline), checked in one pass: None unless
    every payload is exactly one JSON object on one line (one holding `{...},{...}` would smuggle
    in an extra event, one holding a line break would split into two lines).

    The lines are copied chunk by chunk into one buffer of their final size: a part is held once,
    never as a list of Python bytes plus its join (three copies of up to --part-bytes each).
    """
    if not len(payloads):
        return bytearray()
    lines = bytearray(pc.sum(pc.binary_length(payloads)).as_py() + len(payloads))
    position = 0
    for chunk in payloads.chunks:
        if not len(chunk):
            continue
        # Each payload followed by a newline: the joined values' data buffer is their lines.
        joined = pc.binary_join_element_wise(chunk, b"", b"\n")
        offsets = np.frombuffer(joined.buffers()[1], np.int32, len(joined) + 1, joined.offset * 4)
        start, end = int(offsets[0]), int(offsets[-1])
        lines[position : position + end - start] = memoryview(joined.buffers()[2])[start:end]
        position += end - start
    if lines.count(b"\n") != len(payloads) or may_hold_refused_number(lines):
        return None
    try:
        return lines if len(_event_decoder.decode_lines(lines)) == len(payloads) else None
    except msgspec.DecodeError:
        return None


def may_hold_refused_number(data: bytes | bytearray) -> bool:
    """Whether `data` may hold a JSON number PostHog refuses (1e999): then check payload by payload."""
    return _HUGE_NUMBER.search(data) is not None


def payload_problem(payload: str, *, one_line: bool = False) -> str | None:
    """Why one payload is not exactly one JSON object (on one line) PostHog accepts; None: it is."""
    if one_line and "\n" in payload:
        return _LINE_BREAK
    try:
        _event_decoder.decode(payload)
        if may_hold_refused_number(payload.encode()):
            return _number_out_of_range(msgspec.json.decode(payload))
    except msgspec.DecodeError as error:
        return str(error)  # msgspec refuses 1e999 itself ("Number out of range")
    return None


def _number_out_of_range(document: object) -> str | None:
    """An integer past f64's range (309 digits and more): serde_json reads it as an infinite float."""
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


def split_malformed(
    rows: pa.Table, *, one_line: bool = False
) -> tuple[pa.Table, list[QuarantinedRow]]:
    """The rows whose payload is one JSON object (on one line), and the others quarantined,
    checked one by one (the slow path, once a check of the whole batch has failed)."""
    problems = [
        payload_problem(payload, one_line=one_line)
        for payload in rows.column("payload").to_pylist()
    ]
    bad = pa.array([problem is not None for problem in problems], pa.bool_())
    quarantined = quarantine(
        rows.filter(bad),
        [Reason.INVALID_PAYLOAD] * sum(problem is not None for problem in problems),
        [f"payload is not one JSON object: {problem}" for problem in problems if problem],
    )
    return rows.filter(pc.invert(bad)), quarantined
