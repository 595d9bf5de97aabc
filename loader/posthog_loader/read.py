"""Read a contract view in (timestamp, uuid) order, one bounded time window at a time.

A single `order by` over a whole view would make the warehouse sort everything before the first row
arrives. One cheap per-hour count plans windows of at most --window-rows rows; each window is read
and sorted on its own, so the first batch leaves quickly and memory stays flat whatever the size.
"""

import datetime as dt
import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

import pyarrow as pa
import pyarrow.compute as pc

from posthog_loader.warehouse import Warehouse

ROW_COLUMNS = ("uuid", "event", "distinct_id", "timestamp", "payload")
# payload_is_json is computed next to the data so invalid JSON is caught in bulk, not per row here.
READ_COLUMNS = (*ROW_COLUMNS, "payload_is_json")
READ_BATCH_ROWS = 10_000
# Record batches read ahead of the batcher: enough to hide the next window's query.
READ_AHEAD_BATCHES = 4
_HOUR = dt.timedelta(hours=1)
T = TypeVar("T")


@dataclass(frozen=True, order=True)
class Position:
    """A row's place in the read order; the checkpoint is the last acknowledged one."""

    timestamp: dt.datetime
    uuid: str


@dataclass(frozen=True)
class Window:
    start: dt.datetime
    end: dt.datetime
    rows: int


@dataclass(frozen=True)
class ReadPlan:
    windows: tuple[Window, ...]
    rows: int
    # Rows at or after the recent cutoff: held back, or included in `rows` and sent live.
    recent: int
    # Rows without a timestamp cannot be ordered or checkpointed; they are reported, not sent.
    missing_timestamp: int


class _Done:
    """Marks the end of a read-ahead stream (or carries the error that ended it)."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


def read_ahead(source: Iterator[T], depth: int) -> Iterator[T]:
    """Iterate `source` on a thread of its own, at most `depth` items ahead of the consumer.

    Memory stays bounded by `depth`; errors reach the consumer; closing the consumer stops and
    closes the source on its own thread.
    """
    items: queue.Queue[T | _Done] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: T | _Done) -> bool:
        """Queue an item unless the consumer has gone; False once it has."""
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
            except queue.Full:
                continue
            return True
        return False

    def produce() -> None:
        try:
            for item in source:
                if not offer(item):
                    return
            offer(_Done())
        except BaseException as error:  # handed to the consumer, which re-raises it
            offer(_Done(error))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="posthog-loader-read-ahead", daemon=True)
    thread.start()
    try:
        while not isinstance(item := items.get(), _Done):
            yield item
        if item.error is not None:
            raise item.error
    finally:
        stop.set()
        thread.join()


def naive_utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        return value
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def pack_windows(hours: Sequence[tuple[dt.datetime, int]], window_rows: int) -> tuple[Window, ...]:
    """Pack consecutive (hour, rows) counts into windows of at most `window_rows` rows.

    An hour is never split, so an hour bigger than the budget becomes a window of its own. Windows
    are contiguous: each ends where the next begins.
    """
    windows: list[Window] = []
    start: dt.datetime | None = None
    rows = 0
    for hour, count in sorted(hours):
        if count <= 0:
            continue
        if start is not None and rows + count > window_rows:
            windows.append(Window(start, hour, rows))
            start, rows = None, 0
        if start is None:
            start = hour
        rows += count
        end = hour + _HOUR
    if start is not None:
        windows.append(Window(start, end, rows))
    return tuple(windows)


def _to_naive_microseconds(column: pa.Array) -> pa.Array:
    unit = column.type.unit
    if unit == "ns":
        # Floor, never round up: a checkpoint earlier than the true row only re-sends, never skips.
        column = pc.floor_temporal(column, unit="microsecond")
    if column.type.tz is not None:
        column = column.cast(pa.timestamp(unit, tz="UTC")).cast(pa.timestamp(unit))
    return column.cast(pa.timestamp("us"), safe=False)


def normalize(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Same names and types whatever the warehouse sends (Snowflake upper-cases names, BigQuery
    adds a time zone, some drivers use large or view strings)."""
    columns = []
    for name, column in zip(READ_COLUMNS, batch.columns, strict=True):
        if name == "timestamp":
            columns.append(_to_naive_microseconds(column))
        elif name == "payload_is_json":
            columns.append(column.cast(pa.bool_()))
        else:
            columns.append(column if column.type == pa.string() else column.cast(pa.string()))
    return pa.RecordBatch.from_arrays(columns, names=list(READ_COLUMNS))


class ModelReader:
    """Plans and reads one contract view after a checkpoint position."""

    def __init__(
        self,
        warehouse: Warehouse,
        relation: str,
        *,
        after: Position | None,
        recent_from: dt.datetime,
        hold_recent: bool,
        window_rows: int,
    ) -> None:
        self._warehouse = warehouse
        self._relation = relation
        self._after = after
        self._recent_from = recent_from
        self._hold_recent = hold_recent
        self._window_rows = window_rows
        dialect = warehouse.dialect
        self._column = {name: dialect.quote(name) for name in ROW_COLUMNS}
        # Null uuids sort first everywhere (dialects disagree on where nulls go) and compare as ''.
        self._uuid_key = f"coalesce({self._column['uuid']}, '')"

    def _timestamp_param(self, name: str) -> str:
        dialect = self._warehouse.dialect
        return f"cast({dialect.param(name)} as {dialect.timestamp_type})"

    def _after_predicate(self) -> tuple[str, dict[str, object]]:
        if self._after is None:
            return "", {}
        ts, uuid = self._column["timestamp"], self._uuid_key
        after_ts = self._timestamp_param("after_timestamp")
        predicate = (
            f"({ts} > {after_ts} or ({ts} = {after_ts}"
            f" and {uuid} > {self._warehouse.dialect.param('after_uuid')}))"
        )
        return predicate, {"after_timestamp": self._after.timestamp, "after_uuid": self._after.uuid}

    def plan(self) -> ReadPlan:
        dialect = self._warehouse.dialect
        ts = self._column["timestamp"]
        after, params = self._after_predicate()
        where = f"where {ts} is null or {after}" if after else ""
        sql = (
            f"select {dialect.truncate_to_hour(ts)} as hour, count(*) as row_count,"
            f" sum(case when {ts} >= {self._timestamp_param('recent_from')} then 1 else 0 end)"
            f" as recent_count from {self._relation} {where} group by 1"
        )
        rows = self._warehouse.fetch(sql, {**params, "recent_from": self._recent_from})
        missing = sum(int(count) for hour, count, _ in rows if hour is None)
        hours = [(naive_utc(hour), int(count), int(recent)) for hour, count, recent in rows if hour]
        recent = sum(recent for _, _, recent in hours)
        if self._hold_recent:
            readable = [(hour, count - recent) for hour, count, recent in hours]
        else:
            readable = [(hour, count) for hour, count, _ in hours]
        windows = pack_windows(readable, self._window_rows)
        return ReadPlan(windows, sum(w.rows for w in windows), recent, missing)

    def read(self, plan: ReadPlan) -> Iterator[pa.RecordBatch]:
        """All planned rows in (timestamp, uuid) order.

        The warehouse is read on a thread of its own, a few batches ahead, so the next window's
        query (its sort, its network round trip) overlaps the batching and sending of this one.
        """
        return read_ahead(self._read_windows(plan), READ_AHEAD_BATCHES)

    def _read_windows(self, plan: ReadPlan) -> Iterator[pa.RecordBatch]:
        dialect = self._warehouse.dialect
        column = self._column
        selected = ", ".join(column[name] for name in ROW_COLUMNS)
        after, after_params = self._after_predicate()
        for window in plan.windows:
            conditions = [
                f"{column['timestamp']} >= {self._timestamp_param('window_start')}",
                f"{column['timestamp']} < {self._timestamp_param('window_end')}",
            ]
            params: dict[str, object] = {"window_start": window.start, "window_end": window.end}
            if after and window.start <= self._after.timestamp:
                conditions.append(after)
                params.update(after_params)
            if self._hold_recent:
                conditions.append(f"{column['timestamp']} < {self._timestamp_param('recent_from')}")
                params["recent_from"] = self._recent_from
            sql = (
                f"select {selected}, {dialect.is_json(column['payload'])} as payload_is_json"
                f" from {self._relation} where {' and '.join(conditions)}"
                f" order by {column['timestamp']}, {self._uuid_key}"
            )
            for batch in self._warehouse.stream(sql, params, READ_BATCH_ROWS):
                if batch.num_rows:
                    yield normalize(batch)
