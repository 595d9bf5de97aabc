"""Saving where a load stands while it runs.

With several requests in flight, acknowledgements arrive out of order. The saved position is the
end of the longest run of consecutive acknowledged batches, so a crash at any moment loses nothing:
the next run starts after that prefix and re-sends at most what was in flight. The same prefix
decides which uuids enter the record of delivered rows, in the same save.
"""

import asyncio
import datetime as dt
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import replace
from typing import Generic, TypeVar

import pyarrow as pa
import pyarrow.compute as pc

from posthog_loader.read import Position
from posthog_loader.rows import QuarantinedRow
from posthog_loader.state import (
    DELIVERED,
    QUARANTINED,
    RECORD_SCHEMA,
    Checkpoint,
    Forget,
    StateStore,
    StateUpdate,
)

T = TypeVar("T")


def record_entries(sent: pa.Table, quarantined: Sequence[QuarantinedRow]) -> pa.Table:
    """Record entries for one acknowledged batch: the rows PostHog accepted, then the quarantined
    ones (never retried, so remembered too; rows without a uuid cannot be)."""
    refused = pa.array([row.uuid for row in quarantined if row.uuid is not None], pa.string())
    accepted = sent.filter(pc.invert(pc.is_in(sent.column("uuid"), value_set=refused)))
    kept = [row for row in quarantined if row.uuid is not None and row.timestamp is not None]
    return pa.concat_tables(
        [
            pa.table(
                {
                    "uuid": accepted.column("uuid"),
                    "timestamp": accepted.column("timestamp"),
                    "outcome": pa.array([DELIVERED] * accepted.num_rows, pa.string()),
                },
                schema=RECORD_SCHEMA,
            ),
            pa.table(
                {
                    "uuid": [row.uuid for row in kept],
                    "timestamp": [row.timestamp for row in kept],
                    "outcome": [QUARANTINED] * len(kept),
                },
                schema=RECORD_SCHEMA,
            ),
        ]
    )


class PrefixTracker(Generic[T]):
    """Releases completed items in sequence order: item n only after items 0..n-1."""

    def __init__(self) -> None:
        self._next = 0
        self._completed: dict[int, T] = {}

    def complete(self, seq: int, item: T) -> list[T]:
        self._completed[seq] = item
        released = []
        while self._next in self._completed:
            released.append(self._completed.pop(self._next))
            self._next += 1
        return released


class CheckpointWriter:
    """Saves the acknowledged prefix at most every `interval` seconds, off the event loop.

    Sending never waits for a save: acknowledgements only update memory, and a background task
    persists the latest state (quarantined rows and record entries first) on the store's own
    thread. The position only moves forward: rows revisited before it do not pull it back.
    """

    def __init__(
        self,
        store: StateStore,
        model: str,
        shard: str,
        start: Checkpoint,
        *,
        interval: float,
        executor: Executor,
        enabled: bool,
        before_save: Callable[[], None] = lambda: None,
        releasing: bool = False,
    ) -> None:
        self._store = store
        self._model = model
        self._shard = shard
        self._interval = interval
        self._executor = executor
        self._enabled = enabled
        self._before_save = before_save
        # Every acknowledged row comes out of the quarantine (--retry-quarantined sends them).
        self._releasing = releasing
        self.checkpoint = start
        self._unsaved_quarantine: list[QuarantinedRow] = []
        self._unsaved_record: list[pa.Table] = []
        self._unsaved_released: list[str] = []
        self._dirty = False
        self._lock = asyncio.Lock()

    def record_from(self, recorded_from: dt.datetime | None) -> None:
        """Record only rows at or after this time from now on (flush before sending anything:
        the store must never claim a record it does not have)."""
        if recorded_from != self.checkpoint.recorded_from:
            self.checkpoint = replace(self.checkpoint, recorded_from=recorded_from)
            self._dirty = True

    def acknowledge(
        self,
        end: Position,
        delivered: int,
        quarantined: Sequence[QuarantinedRow],
        recorded: pa.Table,
    ) -> None:
        checkpoint = self.checkpoint
        position = end if checkpoint.position is None else max(checkpoint.position, end)
        released = recorded.column("uuid").to_pylist() if self._releasing else []
        self.checkpoint = replace(
            checkpoint,
            position=position,
            rows_delivered=checkpoint.rows_delivered + delivered,
            rows_quarantined=max(0, checkpoint.rows_quarantined + len(quarantined) - len(released)),
        )
        self._unsaved_quarantine.extend(quarantined)
        self._unsaved_released.extend(released)
        if checkpoint.recorded_from is not None:
            recorded = recorded.filter(
                pc.greater_equal(recorded.column("timestamp"), pa.scalar(checkpoint.recorded_from))
            )
        if recorded.num_rows:
            self._unsaved_record.append(recorded)
        self._dirty = True

    async def run_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.flush()

    def _save(self, update: StateUpdate) -> None:
        # What the sink keeps beside the checkpoint (an export's manifest) is saved first: it may
        # name more than the checkpoint, never less.
        self._before_save()
        self._store.save(self._model, self._shard, update)

    async def flush(self, forget: Forget | None = None) -> None:
        """Save what is unsaved; with `forget`, also drop the record entries a finished run no
        longer needs (and raise `recorded_from` past those dropped for their age)."""
        async with self._lock:
            if forget is not None and forget.before is not None:
                floor = self.checkpoint.recorded_from
                self.checkpoint = replace(
                    self.checkpoint,
                    recorded_from=forget.before if floor is None else max(floor, forget.before),
                )
            if not self._enabled or not (self._dirty or forget is not None):
                return
            rows, records = self._unsaved_quarantine, self._unsaved_record
            released = self._unsaved_released
            update = StateUpdate(
                self.checkpoint,
                rows,
                pa.concat_tables(records) if records else None,
                forget,
                released,
            )
            self._unsaved_quarantine, self._unsaved_record, self._dirty = [], [], False
            self._unsaved_released = []
            try:
                await asyncio.get_running_loop().run_in_executor(self._executor, self._save, update)
            except BaseException:
                # Keep what was not saved so the final flush can try again.
                self._unsaved_quarantine = rows + self._unsaved_quarantine
                self._unsaved_record = records + self._unsaved_record
                self._unsaved_released = released + self._unsaved_released
                self._dirty = True
                raise
