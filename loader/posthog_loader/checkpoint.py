"""Where a load stands: the last acknowledged position per model, and the quarantined rows.

With several requests in flight, acknowledgements arrive out of order. The saved position is the
end of the longest run of consecutive acknowledged batches, so a crash at any moment loses nothing:
the next run starts after that prefix and re-sends at most what was in flight.
"""

import asyncio
import datetime as dt
import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import orjson

from posthog_loader.batch import QuarantinedRow
from posthog_loader.errors import ConfigError
from posthog_loader.read import Position
from posthog_loader.warehouse import Statement, Warehouse

# The unsharded load; a shard key (e.g. "2/8") will sit beside it when --shard arrives.
ALL_ROWS_SHARD = "all"
STATE_TABLE = "posthog_load_state"
QUARANTINE_TABLE = "posthog_load_quarantine"
_QUARANTINE_COLUMNS = (
    "model",
    "shard",
    "uuid",
    "event",
    "distinct_id",
    "event_timestamp",
    "reason",
    "detail",
    "payload",
    "quarantined_at",
)
_TIMESTAMP_COLUMNS = {"event_timestamp", "quarantined_at", "position_timestamp", "updated_at"}
# Rows per multi-row INSERT, keeping statements and parameter counts small on every warehouse.
_INSERT_CHUNK = 100

T = TypeVar("T")


@dataclass(frozen=True)
class Checkpoint:
    position: Position | None = None
    # Totals over all runs since the last --reset.
    rows_delivered: int = 0
    rows_quarantined: int = 0


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _quarantine_record(
    model: str, shard: str, row: QuarantinedRow, at: dt.datetime
) -> dict[str, Any]:
    return {
        "model": model,
        "shard": shard,
        "uuid": row.uuid,
        "event": row.event,
        "distinct_id": row.distinct_id,
        "event_timestamp": row.timestamp,
        "reason": str(row.reason),
        "detail": row.detail,
        "payload": row.payload,
        "quarantined_at": at,
    }


class StateStore(ABC):
    description: str
    quarantine_location: str
    # Seconds between checkpoint saves while loading.
    checkpoint_interval: float = 1.0

    @abstractmethod
    def prepare(self) -> None:
        """Create the storage if missing (never called in a dry run)."""

    @abstractmethod
    def load(self, model: str, shard: str) -> Checkpoint: ...

    @abstractmethod
    def save(
        self, model: str, shard: str, checkpoint: Checkpoint, quarantined: Sequence[QuarantinedRow]
    ) -> None:
        """Persist quarantined rows first, then the position that moves past them."""

    @abstractmethod
    def reset(self, models: Sequence[str]) -> None: ...


class WarehouseStateStore(StateStore):
    """State tables next to the data, so a scheduled job on a fresh runner finds them."""

    def __init__(self, warehouse: Warehouse, database: str | None, schema: str) -> None:
        self._warehouse = warehouse
        self._database = database
        self._schema = schema
        dialect = warehouse.dialect
        self._state = dialect.qualify(database, schema, STATE_TABLE)
        self._quarantine = dialect.qualify(database, schema, QUARANTINE_TABLE)
        self.description = f"warehouse table {self._state}"
        self.quarantine_location = f"warehouse table {self._quarantine}"
        self.checkpoint_interval = warehouse.checkpoint_interval

    def _param(self, name: str) -> str:
        dialect = self._warehouse.dialect
        placeholder = dialect.param(name)
        column = name.rsplit("__", 1)[0]
        if column in _TIMESTAMP_COLUMNS:
            # Typed, so a null timestamp binds as a timestamp on every warehouse.
            return f"cast({placeholder} as {dialect.timestamp_type})"
        return placeholder

    def _exists(self) -> bool:
        return all(
            self._warehouse.table_exists(self._database, self._schema, table)
            for table in (STATE_TABLE, QUARANTINE_TABLE)
        )

    def prepare(self) -> None:
        if self._exists():
            return
        dialect = self._warehouse.dialect
        text, integer, timestamp = dialect.text_type, dialect.integer_type, dialect.timestamp_type
        quarantine_types = {
            column: timestamp if column in _TIMESTAMP_COLUMNS else text
            for column in _QUARANTINE_COLUMNS
        }
        # One statement at a time: some warehouses (BigQuery) allow no DDL inside a transaction.
        for statement in (
            f"create schema if not exists {dialect.qualify(self._database, self._schema)}",
            f"create table if not exists {self._state} (model {text}, shard {text},"
            f" position_timestamp {timestamp}, position_uuid {text},"
            f" rows_delivered {integer}, rows_quarantined {integer}, updated_at {timestamp})",
            f"create table if not exists {self._quarantine} ("
            + ", ".join(f"{column} {kind}" for column, kind in quarantine_types.items())
            + ")",
        ):
            self._warehouse.execute(Statement(statement))

    def load(self, model: str, shard: str) -> Checkpoint:
        if not self._exists():
            return Checkpoint()
        rows = self._warehouse.fetch(
            "select position_timestamp, position_uuid, rows_delivered, rows_quarantined"
            f" from {self._state} where model = {self._param('model')}"
            f" and shard = {self._param('shard')}",
            {"model": model, "shard": shard},
        )
        if not rows:
            return Checkpoint()
        timestamp, uuid, delivered, quarantined = rows[0]
        position = None
        if timestamp is not None:
            if timestamp.tzinfo is not None:
                timestamp = timestamp.astimezone(dt.UTC).replace(tzinfo=None)
            position = Position(timestamp, uuid or "")
        return Checkpoint(position, int(delivered or 0), int(quarantined or 0))

    def save(
        self, model: str, shard: str, checkpoint: Checkpoint, quarantined: Sequence[QuarantinedRow]
    ) -> None:
        now = _now()
        statements = [
            self._insert_quarantine(model, shard, quarantined[start : start + _INSERT_CHUNK], now)
            for start in range(0, len(quarantined), _INSERT_CHUNK)
        ]
        key = {"model": model, "shard": shard}
        statements.append(
            Statement(
                f"delete from {self._state} where model = {self._param('model')}"
                f" and shard = {self._param('shard')}",
                key,
            )
        )
        position = checkpoint.position
        values = {
            **key,
            "position_timestamp": position.timestamp if position else None,
            "position_uuid": position.uuid if position else None,
            "rows_delivered": checkpoint.rows_delivered,
            "rows_quarantined": checkpoint.rows_quarantined,
            "updated_at": now,
        }
        statements.append(
            Statement(
                f"insert into {self._state} ({', '.join(values)})"
                f" values ({', '.join(self._param(name) for name in values)})",
                values,
            )
        )
        self._warehouse.run_transaction(statements)

    def _insert_quarantine(
        self, model: str, shard: str, rows: Sequence[QuarantinedRow], now: dt.datetime
    ) -> Statement:
        params: dict[str, object] = {}
        tuples = []
        for index, row in enumerate(rows):
            record = _quarantine_record(model, shard, row, now)
            names = [f"{column}__{index}" for column in _QUARANTINE_COLUMNS]
            params.update(zip(names, record.values(), strict=True))
            tuples.append("(" + ", ".join(self._param(name) for name in names) + ")")
        return Statement(
            f"insert into {self._quarantine} ({', '.join(_QUARANTINE_COLUMNS)}) values "
            + ", ".join(tuples),
            params,
        )

    def reset(self, models: Sequence[str]) -> None:
        if not self._exists():
            return
        self._warehouse.run_transaction(
            [
                Statement(
                    f"delete from {table} where model = {self._param(f'model__{index}')}",
                    {f"model__{index}": model},
                )
                for index, model in enumerate(models)
                for table in (self._state, self._quarantine)
            ]
        )


class FileStateStore(StateStore):
    """Local JSON state plus a JSONL quarantine file beside it, for read-only warehouses."""

    _FORMAT = 1

    def __init__(self, path: Path) -> None:
        self._path = path
        self._quarantine_path = path.with_name(f"{path.stem}.quarantine.jsonl")
        self.description = f"state file {path}"
        self.quarantine_location = f"quarantine file {self._quarantine_path}"
        self._document = self._read()

    def _read(self) -> dict[str, Any]:
        if not self._path.exists():
            return {"format": self._FORMAT, "checkpoints": {}}
        try:
            document = orjson.loads(self._path.read_bytes())
        except (orjson.JSONDecodeError, OSError) as error:
            raise ConfigError(
                f"--state-file {self._path} cannot be read ({error}). Restore it, or delete it "
                "together with --reset to start the load over."
            ) from None
        if not isinstance(document, dict) or document.get("format") != self._FORMAT:
            raise ConfigError(f"--state-file {self._path} is not a load-posthog state file.")
        return document

    def prepare(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)

    def load(self, model: str, shard: str) -> Checkpoint:
        entry = self._document["checkpoints"].get(model, {}).get(shard)
        if entry is None:
            return Checkpoint()
        position = None
        if entry.get("timestamp"):
            position = Position(dt.datetime.fromisoformat(entry["timestamp"]), entry["uuid"])
        return Checkpoint(position, entry["rows_delivered"], entry["rows_quarantined"])

    def save(
        self, model: str, shard: str, checkpoint: Checkpoint, quarantined: Sequence[QuarantinedRow]
    ) -> None:
        now = _now()
        if quarantined:
            lines = b"".join(
                orjson.dumps(
                    _quarantine_record(model, shard, row, now), option=orjson.OPT_APPEND_NEWLINE
                )
                for row in quarantined
            )
            with self._quarantine_path.open("ab") as handle:
                handle.write(lines)
                handle.flush()
                os.fsync(handle.fileno())
        position = checkpoint.position
        self._document["checkpoints"].setdefault(model, {})[shard] = {
            "timestamp": position.timestamp.isoformat() if position else None,
            "uuid": position.uuid if position else None,
            "rows_delivered": checkpoint.rows_delivered,
            "rows_quarantined": checkpoint.rows_quarantined,
            "updated_at": now.isoformat(),
        }
        self._write_document()

    def _write_document(self) -> None:
        # Write-then-rename: a crash leaves either the old or the new state, never half of one.
        temporary = self._path.with_name(f"{self._path.name}.tmp")
        with temporary.open("wb") as handle:
            handle.write(orjson.dumps(self._document, option=orjson.OPT_INDENT_2))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self._path)

    def reset(self, models: Sequence[str]) -> None:
        for model in models:
            self._document["checkpoints"].pop(model, None)
        self._write_document()
        if self._quarantine_path.exists():
            kept = [
                line
                for line in self._quarantine_path.read_bytes().splitlines(keepends=True)
                if orjson.loads(line).get("model") not in models
            ]
            self._quarantine_path.write_bytes(b"".join(kept))


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
    persists the latest state (quarantined rows first) on the store's own thread.
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
    ) -> None:
        self._store = store
        self._model = model
        self._shard = shard
        self._interval = interval
        self._executor = executor
        self._enabled = enabled
        self.checkpoint = start
        self._unsaved_quarantine: list[QuarantinedRow] = []
        self._dirty = False
        self._lock = asyncio.Lock()

    def acknowledge(
        self, end: Position, delivered: int, quarantined: Sequence[QuarantinedRow]
    ) -> None:
        self.checkpoint = Checkpoint(
            end,
            self.checkpoint.rows_delivered + delivered,
            self.checkpoint.rows_quarantined + len(quarantined),
        )
        self._unsaved_quarantine.extend(quarantined)
        self._dirty = True

    async def run_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.flush()

    async def flush(self) -> None:
        async with self._lock:
            if not self._dirty or not self._enabled:
                return
            checkpoint, rows = self.checkpoint, self._unsaved_quarantine
            self._unsaved_quarantine, self._dirty = [], False
            try:
                await asyncio.get_running_loop().run_in_executor(
                    self._executor, self._store.save, self._model, self._shard, checkpoint, rows
                )
            except BaseException:
                # Keep the rows so the final flush can try again.
                self._unsaved_quarantine = rows + self._unsaved_quarantine
                self._dirty = True
                raise
