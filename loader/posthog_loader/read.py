"""Read a contract view in (timestamp, uuid) order, one bounded time window at a time.

A single `order by` over a whole view would make the warehouse sort everything before the first row
arrives. One cheap per-hour count plans windows of at most --window-rows rows (hours holding more
are counted again per minute, then per second); each window is read and sorted on its own, so the
first batch leaves quickly and memory stays flat whatever the size.
"""

import datetime as dt
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import pyarrow as pa
import pyarrow.compute as pc

from posthog_loader.errors import WindowTooLargeError
from posthog_loader.warehouse import Warehouse

ROW_COLUMNS = ("uuid", "event", "distinct_id", "timestamp", "payload")
# The contract view's alias in every read query, so filters can correlate subqueries with it.
ROW_ALIAS = "contract_row"
READ_BATCH_ROWS = 2_048
# Record batches read ahead of the batcher: enough to hide the next window's query.
READ_AHEAD_BATCHES = 2
# Planning grains, coarse to fine, and the length of one bucket at each.
GRAINS = ("hour", "minute", "second")
GRAIN_STEPS = (dt.timedelta(hours=1), dt.timedelta(minutes=1), dt.timedelta(seconds=1))
T = TypeVar("T")


@dataclass(frozen=True, order=True)
class Position:
    """A row's place in the read order; the checkpoint is the last acknowledged one."""

    timestamp: dt.datetime
    uuid: str


@dataclass(frozen=True)
class Revisit:
    """Rows before the checkpoint to read again unless a filter drops them (the record of
    delivered uuids does): those at or after `since`, or all of them when `since` is None."""

    since: dt.datetime | None


@dataclass(frozen=True)
class RowFilter:
    """A condition every row read must meet: SQL the warehouse evaluates (over ROW_ALIAS), or a
    mask computed on the rows as they arrive, for state the warehouse cannot see."""

    where: str | None = None
    params: Mapping[str, object] = field(default_factory=dict)
    keep: Callable[[pa.RecordBatch], pa.Array] | None = None


@dataclass(frozen=True)
class Bucket:
    """Rows whose timestamp falls in [start, end), counted at one grain (hour, minute, second)."""

    start: dt.datetime
    end: dt.datetime
    rows: int
    grain: int


@dataclass(frozen=True)
class ReadPlan:
    buckets: tuple[Bucket, ...]
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


def take_window(buckets: deque[Bucket], budget: int) -> list[Bucket]:
    """Pop the leading buckets that together hold at most `budget` rows (always at least one)."""
    taken = [buckets.popleft()]
    rows = taken[0].rows
    while buckets and rows + buckets[0].rows <= budget:
        rows += buckets[0].rows
        taken.append(buckets.popleft())
    return taken


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
    for name, raw in zip(ROW_COLUMNS, batch.columns, strict=True):
        if name == "timestamp":
            column = _to_naive_microseconds(raw)
        else:
            column = raw if raw.type == pa.string() else raw.cast(pa.string())
        if name != "payload":
            # Buffers of its own: the driver frees its batch only once no column of it is held,
            # and the keys outlive the payloads (a part's rows are recorded after it is written).
            column = pa.concat_arrays([column])
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, names=list(ROW_COLUMNS))


def qualified_column(warehouse: Warehouse, name: str) -> str:
    """A contract view column as read queries name it."""
    return f"{ROW_ALIAS}.{warehouse.dialect.quote(name)}"


class ModelReader:
    """Plans and reads one contract view after a checkpoint position (and, with `revisit`, the
    rows before it that no filter drops), in (timestamp, uuid) order."""

    def __init__(
        self,
        warehouse: Warehouse,
        relation: str,
        *,
        after: Position | None,
        recent_from: dt.datetime,
        hold_recent: bool,
        window_rows: int,
        revisit: Revisit | None = None,
        filters: Sequence[RowFilter] = (),
    ) -> None:
        self._warehouse = warehouse
        self._relation = f"{relation} as {ROW_ALIAS}"
        self._after = after
        self._revisit = revisit
        self._recent_from = recent_from
        self._hold_recent = hold_recent
        self._window_rows = window_rows
        self._sql_filters = [f for f in filters if f.where]
        self._masks = [f.keep for f in filters if f.keep is not None]
        self._column = {name: qualified_column(warehouse, name) for name in ROW_COLUMNS}
        # Null uuids sort first (said explicitly: dialects disagree) and compare as ''.
        self._uuid_key = f"coalesce({self._column['uuid']}, '')"

    def _timestamp_param(self, name: str) -> str:
        dialect = self._warehouse.dialect
        return f"cast({dialect.param(name)} as {dialect.timestamp_type})"

    def _after_predicate(self) -> tuple[str, dict[str, object]]:
        """Rows past the checkpoint, or revisited; empty when every row qualifies."""
        if self._after is None:
            return "", {}
        ts, uuid = self._column["timestamp"], self._uuid_key
        after_ts = self._timestamp_param("after_timestamp")
        predicate = (
            f"({ts} > {after_ts} or ({ts} = {after_ts}"
            f" and {uuid} > {self._warehouse.dialect.param('after_uuid')}))"
        )
        params: dict[str, object] = {
            "after_timestamp": self._after.timestamp,
            "after_uuid": self._after.uuid,
        }
        if self._revisit is not None:
            # Rows without a uuid cannot be told apart from delivered ones: never revisited.
            earlier = f"{self._column['uuid']} is not null"
            if self._revisit.since is not None:
                earlier += f" and {ts} >= {self._timestamp_param('revisit_from')}"
                params["revisit_from"] = self._revisit.since
            predicate = f"({predicate} or ({earlier}))"
        return predicate, params

    def _filter_conditions(self) -> tuple[list[str], dict[str, object]]:
        params: dict[str, object] = {}
        for row_filter in self._sql_filters:
            params |= row_filter.params
        return [f"({row_filter.where})" for row_filter in self._sql_filters], params

    def _count(self, grain: int, within: Bucket | None) -> tuple[list[Bucket], int, int]:
        """Buckets at `grain` after the checkpoint (inside `within` if given), plus the recent
        rows and the rows without a timestamp."""
        dialect = self._warehouse.dialect
        ts = self._column["timestamp"]
        after, params = self._after_predicate()
        conditions = [f"({ts} is null or {after})"] if after else []
        filters, filter_params = self._filter_conditions()
        conditions += filters
        params |= filter_params
        if within is not None:
            conditions += [
                f"{ts} >= {self._timestamp_param('within_start')}",
                f"{ts} < {self._timestamp_param('within_end')}",
            ]
            params |= {"within_start": within.start, "within_end": within.end}
        where = f"where {' and '.join(conditions)}" if conditions else ""
        sql = (
            f"select {dialect.truncate(GRAINS[grain], ts)} as bucket, count(*) as row_count,"
            f" sum(case when {ts} >= {self._timestamp_param('recent_from')} then 1 else 0 end)"
            f" as recent_count from {self._relation} {where} group by 1"
        )
        rows = self._warehouse.fetch(sql, {**params, "recent_from": self._recent_from})
        buckets, recent, missing = [], 0, 0
        step = GRAIN_STEPS[grain]
        for truncated, count, recent_count in rows:
            if truncated is None:
                missing += int(count)
                continue
            recent += int(recent_count)
            readable = int(count) - (int(recent_count) if self._hold_recent else 0)
            if readable:
                start = naive_utc(truncated)
                buckets.append(Bucket(start, start + step, readable, grain))
        return sorted(buckets, key=lambda bucket: bucket.start), recent, missing

    def _refine(self, buckets: list[Bucket], budget: int) -> list[Bucket]:
        """Count buckets holding more than `budget` rows again at a finer grain."""
        refined: list[Bucket] = []
        for bucket in buckets:
            if bucket.rows <= budget or bucket.grain + 1 == len(GRAINS):
                refined.append(bucket)
            else:
                finer, _, _ = self._count(bucket.grain + 1, bucket)
                refined += self._refine(finer, budget)
        return refined

    def plan(self) -> ReadPlan:
        hours, recent, missing = self._count(0, None)
        buckets = self._refine(hours, self._window_rows)
        return ReadPlan(tuple(buckets), sum(b.rows for b in buckets), recent, missing)

    def read(self, plan: ReadPlan) -> Iterator[pa.RecordBatch]:
        """All planned rows in (timestamp, uuid) order.

        The warehouse is read on a thread of its own, a few batches ahead, so the next window's
        query (its sort, its network round trip) overlaps the batching and sending of this one.
        """
        return read_ahead(self._read_windows(plan), READ_AHEAD_BATCHES)

    def _read_windows(self, plan: ReadPlan) -> Iterator[pa.RecordBatch]:
        pending = deque(plan.buckets)
        budget = self._window_rows
        start = plan.buckets[0].start if plan.buckets else None
        while pending:
            window = take_window(pending, budget)
            # Windows are contiguous, so rows landing between counted buckets are read too.
            end = window[-1].end
            try:
                yield from self._read_window(start, end)
            except WindowTooLargeError:
                # Nothing of this window was read yet: retry it, and the rest, in smaller windows.
                budget = max(1, sum(bucket.rows for bucket in window) // 2)
                window = self._refine(window, budget)
                if len(window) == 1:
                    raise
                pending.extendleft(reversed(window))
                continue
            start = end

    def _read_window(self, start: dt.datetime, end: dt.datetime) -> Iterator[pa.RecordBatch]:
        column = self._column
        after, after_params = self._after_predicate()
        conditions = [
            f"{column['timestamp']} >= {self._timestamp_param('window_start')}",
            f"{column['timestamp']} < {self._timestamp_param('window_end')}",
        ]
        params: dict[str, object] = {"window_start": start, "window_end": end}
        # A window wholly after the checkpoint holds only rows after it.
        if after and self._after is not None and start <= self._after.timestamp:
            conditions.append(after)
            params |= after_params
        filters, filter_params = self._filter_conditions()
        conditions += filters
        params |= filter_params
        if self._hold_recent:
            conditions.append(f"{column['timestamp']} < {self._timestamp_param('recent_from')}")
            params["recent_from"] = self._recent_from
        sql = (
            f"select {', '.join(column[name] for name in ROW_COLUMNS)}"
            f" from {self._relation} where {' and '.join(conditions)}"
            f" order by {column['timestamp']}, {column['uuid']} nulls first"
        )
        for batch in self._warehouse.stream(sql, params, READ_BATCH_ROWS):
            if not batch.num_rows:
                continue
            rows = normalize(batch)
            for keep in self._masks:
                rows = rows.filter(keep(rows))
            if rows.num_rows:
                yield rows
