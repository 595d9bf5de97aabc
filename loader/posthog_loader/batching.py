"""Cut ordered rows into batches: one capture request, or one export part, each.

A batch holds rows of one UTC day at most (PostHog asks importers for "about one day per batch,
oldest to newest": scrambled days make ClickHouse write many small parts), never a uuid twice (capture
v1 and the managed import refuse or drop such batches), and stays within an event and a byte budget.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from posthog_loader.read import ROW_COLUMNS, Position
from posthog_loader.rows import (
    CHECK_ORDER,
    QuarantinedRow,
    Reason,
    quarantine,
    reason_codes,
    repeated_uuids,
)

# Per-row codes: 0 valid, else 1 + the index of the reason here.
_CODE_REASONS = (*CHECK_ORDER, Reason.DUPLICATE_UUID)
_DUPLICATE_CODE = len(_CODE_REASONS)
_DAY_MICROSECONDS = 86_400_000_000
_EPOCH = dt.date(1970, 1, 1)


@dataclass(frozen=True)
class BatchLimits:
    max_events: int
    # Payload bytes plus one separator per event.
    max_bytes: int


@dataclass
class Batch:
    """A contiguous run of source rows, all of one UTC day: the valid ones travel together (one
    request, one part), the rest go to quarantine."""

    seq: int
    historical: bool
    day: dt.date
    rows: pa.Table
    quarantined: list[QuarantinedRow]
    first_timestamp: dt.datetime
    # The first row's uuid (None if it has none): with first_timestamp, where the batch starts.
    start_uuid: str | None
    end: Position
    rows_read: int


@dataclass
class _Pending:
    segment: int
    slices: list[pa.RecordBatch] = field(default_factory=list)
    events: int = 0
    payload_bytes: int = 0


class Batcher:
    """Cuts ordered, validated rows into batches bounded by events, bytes and the UTC day.

    With `live_from` set, rows at or after it (the last ones, since rows arrive in timestamp order)
    go in separate batches flagged historical=False.
    """

    def __init__(self, limits: BatchLimits, live_from: dt.datetime | None) -> None:
        self._max_events = limits.max_events
        self._max_bytes = max(1, limits.max_bytes)
        self._live_from = (
            None if live_from is None else int(np.datetime64(live_from, "us").astype(np.int64))
        )
        self._seq = 0

    def _segments(self, batch: pa.RecordBatch) -> np.ndarray:
        """Per row: its UTC day, times two, plus one in the live lane. A batch never spans two."""
        micros = np.asarray(pc.fill_null(batch.column("timestamp").cast(pa.int64()), 0))
        segments = (micros // _DAY_MICROSECONDS) * 2
        if self._live_from is not None:
            segments += micros >= self._live_from
        return segments

    def batches(self, record_batches: Iterable[pa.RecordBatch]) -> Iterator[Batch]:
        pending: _Pending | None = None
        for record_batch in record_batches:
            codes = reason_codes(record_batch)
            batch = record_batch.append_column("reason_code", pa.array(codes))
            valid = codes == 0
            # One separator per event; invalid rows cost nothing, they only ride along for position.
            costs = np.where(
                valid, np.asarray(pc.binary_length(batch.column("payload")).fill_null(0)) + 1, 0
            )
            cumulative_bytes = np.cumsum(costs)
            cumulative_events = np.cumsum(valid)
            segments = self._segments(batch)
            # Where each run of one segment ends.
            run_ends = np.append(np.flatnonzero(np.diff(segments)) + 1, batch.num_rows)
            start = 0
            while start < batch.num_rows:
                segment = int(segments[start])
                segment_end = int(run_ends[np.searchsorted(run_ends, start, side="right")])
                if pending is not None and pending.segment != segment:
                    yield self._flush(pending)
                    pending = None
                if pending is None:
                    pending = _Pending(segment)
                base_events = cumulative_events[start - 1] if start else 0
                base_bytes = cumulative_bytes[start - 1] if start else 0
                fits_events = np.searchsorted(
                    cumulative_events[start:segment_end],
                    base_events + self._max_events - pending.events,
                    side="right",
                )
                fits_bytes = np.searchsorted(
                    cumulative_bytes[start:segment_end],
                    base_bytes + self._max_bytes - pending.payload_bytes,
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
                if start < segment_end:
                    yield self._flush(pending)
                    pending = None
        if pending is not None and pending.slices:
            yield self._flush(pending)

    def _flush(self, pending: _Pending) -> Batch:
        table = pa.Table.from_batches(pending.slices)
        codes = np.asarray(table.column("reason_code").combine_chunks()).copy()
        codes[repeated_uuids(table.column("uuid"), codes == 0)] = _DUPLICATE_CODE
        invalid = codes != 0
        rows = table.select(ROW_COLUMNS)
        quarantined: list[QuarantinedRow] = []
        if invalid.any():
            mask = pa.array(invalid)
            reasons = [_CODE_REASONS[code - 1] for code in codes[invalid]]
            quarantined = quarantine(rows.filter(mask), reasons)
            rows = rows.filter(pc.invert(mask))
        first = table.slice(0, 1).select(["timestamp", "uuid"]).to_pylist()[0]
        last = table.slice(table.num_rows - 1).select(["timestamp", "uuid"]).to_pylist()[0]
        batch = Batch(
            seq=self._seq,
            historical=pending.segment % 2 == 0,
            day=_EPOCH + dt.timedelta(days=pending.segment // 2),
            rows=rows,
            quarantined=quarantined,
            first_timestamp=first["timestamp"],
            start_uuid=first["uuid"],
            end=Position(last["timestamp"], last["uuid"] or ""),
            rows_read=table.num_rows,
        )
        self._seq += 1
        return batch
