"""State tables next to the data, so a scheduled job on a fresh runner finds them, and so the
record of delivered uuids can be anti-joined by the warehouse while it reads."""

import datetime as dt
from collections.abc import Sequence

import orjson
import pyarrow as pa

from posthog_loader.read import Position, RowFilter, qualified_column
from posthog_loader.rows import QuarantinedRow
from posthog_loader.sharding import Shard
from posthog_loader.state.base import (
    QUARANTINE_TABLE,
    RECORD_TABLE,
    STATE_TABLE,
    Checkpoint,
    DayEventCounts,
    Forget,
    StateStore,
    StateUpdate,
    quarantine_record,
    utc_now,
)
from posthog_loader.warehouse import Statement, Warehouse

_STATE_COLUMNS = (
    "model",
    "shard",
    "position_timestamp",
    "position_uuid",
    "rows_delivered",
    "rows_quarantined",
    "recorded_from",
    "updated_at",
)
# Added after the first release: an older state table gets them on `prepare`.
_LATER_STATE_COLUMNS = ("recorded_from",)
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
_RECORD_COLUMNS = ("model", "shard", "uuid", "event_timestamp", "outcome", "recorded_at")
_TIMESTAMP_COLUMNS = {
    "event_timestamp",
    "quarantined_at",
    "position_timestamp",
    "recorded_from",
    "recorded_at",
    "updated_at",
}
_INTEGER_COLUMNS = {"rows_delivered", "rows_quarantined"}
# Rows per multi-row INSERT of quarantined rows (they carry whole payloads).
_INSERT_CHUNK = 100
# Record entries per INSERT: one JSON parameter of about 2 MB.
_RECORD_CHUNK = 20_000
# Record entries per multi-row INSERT (three parameters each, within the wire protocol's 32,767).
_RECORD_VALUES_CHUNK = 5_000


class WarehouseStateStore(StateStore):
    def __init__(self, warehouse: Warehouse, database: str | None, schema: str) -> None:
        self._warehouse = warehouse
        self._database = database
        self._schema = schema
        dialect = warehouse.dialect
        self._state = dialect.qualify(database, schema, STATE_TABLE)
        self._quarantine = dialect.qualify(database, schema, QUARANTINE_TABLE)
        self._record = dialect.qualify(database, schema, RECORD_TABLE)
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

    def _key(self, model: str, shard: str) -> tuple[str, dict[str, object]]:
        return (
            f"model = {self._param('model')} and shard = {self._param('shard')}",
            {"model": model, "shard": shard},
        )

    def _exists(self) -> bool:
        return all(
            self._warehouse.table_exists(self._database, self._schema, table)
            for table in (STATE_TABLE, QUARANTINE_TABLE, RECORD_TABLE)
        )

    def _column_type(self, column: str) -> str:
        dialect = self._warehouse.dialect
        if column in _TIMESTAMP_COLUMNS:
            return dialect.timestamp_type
        return dialect.integer_type if column in _INTEGER_COLUMNS else dialect.text_type

    def prepare(self) -> None:
        warehouse = self._warehouse
        tables = {
            STATE_TABLE: (self._state, _STATE_COLUMNS),
            QUARANTINE_TABLE: (self._quarantine, _QUARANTINE_COLUMNS),
            RECORD_TABLE: (self._record, _RECORD_COLUMNS),
        }
        existing = {
            name: warehouse.column_names(self._database, self._schema, name) for name in tables
        }
        if all(existing.values()) and set(_LATER_STATE_COLUMNS) <= existing[STATE_TABLE]:
            return  # no DDL: the role may lack CREATE rights once the tables exist
        # One statement at a time: some warehouses (BigQuery) allow no DDL inside a transaction.
        schema = warehouse.dialect.qualify(self._database, self._schema)
        warehouse.execute(Statement(f"create schema if not exists {schema}"))
        for name, (table, columns) in tables.items():
            if not existing[name]:
                definition = ", ".join(
                    f"{column} {self._column_type(column)}" for column in columns
                )
                warehouse.execute(Statement(f"create table if not exists {table} ({definition})"))
        for column in _LATER_STATE_COLUMNS:
            if existing[STATE_TABLE] and column not in existing[STATE_TABLE]:
                warehouse.execute(
                    Statement(
                        f"alter table {self._state} add column {column} {self._column_type(column)}"
                    )
                )

    def load(self, model: str, shard: str) -> Checkpoint:
        if not self._exists():
            return Checkpoint()
        where, params = self._key(model, shard)
        rows = self._warehouse.fetch(
            "select position_timestamp, position_uuid, rows_delivered, rows_quarantined,"
            f" recorded_from from {self._state} where {where}",
            params,
        )
        if not rows:
            return Checkpoint()
        timestamp, uuid, delivered, quarantined, recorded_from = rows[0]
        position = None
        if timestamp is not None:
            position = Position(_naive_utc(timestamp), uuid or "")
        return Checkpoint(
            position,
            int(delivered or 0),
            int(quarantined or 0),
            _naive_utc(recorded_from) if recorded_from is not None else None,
        )

    def shard_keys(self, model: str) -> set[str]:
        if not self._exists():
            return set()
        rows = self._warehouse.fetch(
            f"select distinct shard from {self._state} where model = {self._param('model')}",
            {"model": model},
        )
        return {shard for (shard,) in rows}

    def save(self, model: str, shard: str, update: StateUpdate) -> None:
        now = utc_now()
        quarantined = update.quarantined
        statements = [
            self._insert_quarantine(model, shard, quarantined[start : start + _INSERT_CHUNK], now)
            for start in range(0, len(quarantined), _INSERT_CHUNK)
        ]
        if update.recorded is not None:
            statements += self._insert_record(model, shard, update.recorded, now)
        if update.forget is not None:
            statements += self._forget(model, shard, update.forget)
        where, key = self._key(model, shard)
        statements.append(Statement(f"delete from {self._state} where {where}", key))
        checkpoint, position = update.checkpoint, update.checkpoint.position
        values = {
            **key,
            "position_timestamp": position.timestamp if position else None,
            "position_uuid": position.uuid if position else None,
            "rows_delivered": checkpoint.rows_delivered,
            "rows_quarantined": checkpoint.rows_quarantined,
            "recorded_from": checkpoint.recorded_from,
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
            record = quarantine_record(model, shard, row, now)
            names = [f"{column}__{index}" for column in _QUARANTINE_COLUMNS]
            params.update(zip(names, record.values(), strict=True))
            tuples.append("(" + ", ".join(self._param(name) for name in names) + ")")
        return Statement(
            f"insert into {self._quarantine} ({', '.join(_QUARANTINE_COLUMNS)}) values "
            + ", ".join(tuples),
            params,
        )

    def _insert_record(
        self, model: str, shard: str, keys: pa.Table, now: dt.datetime
    ) -> list[Statement]:
        if not self._warehouse.dialect.binds_json_rows:
            return self._insert_record_values(model, shard, keys, now)
        statements = []
        for index, start in enumerate(range(0, keys.num_rows, _RECORD_CHUNK)):
            # One name per chunk: BigQuery binds a transaction's parameters all at once.
            name = f"record_rows__{index}"
            rows = self._warehouse.dialect.json_rows(
                name, ("uuid", "timestamp", "outcome"), {"timestamp"}
            )
            # Naive datetimes serialize as ISO 8601 without an offset: UTC, as the columns are.
            encoded = orjson.dumps(keys.slice(start, _RECORD_CHUNK).to_pylist()).decode()
            statements.append(
                Statement(
                    f"insert into {self._record} ({', '.join(_RECORD_COLUMNS)})"
                    f" select {self._param('model')}, {self._param('shard')}, recorded_rows.uuid,"
                    f" recorded_rows.timestamp, recorded_rows.outcome,"
                    f" {self._param('recorded_at')} from ({rows}) as recorded_rows",
                    {"model": model, "shard": shard, "recorded_at": now, name: encoded},
                )
            )
        return statements

    def _insert_record_values(
        self, model: str, shard: str, keys: pa.Table, now: dt.datetime
    ) -> list[Statement]:
        statements = []
        for start in range(0, keys.num_rows, _RECORD_VALUES_CHUNK):
            params: dict[str, object] = {"model": model, "shard": shard, "recorded_at": now}
            tuples = []
            for index, row in enumerate(keys.slice(start, _RECORD_VALUES_CHUNK).to_pylist()):
                names = (f"uuid__{index}", f"event_timestamp__{index}", f"outcome__{index}")
                params.update(
                    zip(names, (row["uuid"], row["timestamp"], row["outcome"]), strict=True)
                )
                placeholders = ("model", "shard", *names, "recorded_at")
                tuples.append("(" + ", ".join(self._param(name) for name in placeholders) + ")")
            statements.append(
                Statement(
                    f"insert into {self._record} ({', '.join(_RECORD_COLUMNS)}) values "
                    + ", ".join(tuples),
                    params,
                )
            )
        return statements

    def _forget(self, model: str, shard: str, forget: Forget) -> list[Statement]:
        where, key = self._key(model, shard)
        statements = []
        if forget.before is not None:
            statements.append(
                Statement(
                    f"delete from {self._record} where {where}"
                    f" and event_timestamp < {self._param('event_timestamp__before')}",
                    {**key, "event_timestamp__before": forget.before},
                )
            )
        if forget.absent_from is not None:
            uuid = self._warehouse.dialect.quote("uuid")
            statements.append(
                Statement(
                    f"delete from {self._record} where {where} and uuid not in"
                    f" (select {uuid} from {forget.absent_from} where {uuid} is not null)",
                    key,
                )
            )
        return statements

    def reset(self, models: Sequence[str], shard: Shard) -> None:
        if not self._exists():
            return
        statements = []
        for index, model in enumerate(models):
            params: dict[str, object] = {f"model__{index}": model}
            where = f"model = {self._param(f'model__{index}')}"
            if shard.sharded:
                # This shard, and whatever another split (or the unsharded load) left.
                where += (
                    f" and (shard = {self._param('shard')}"
                    f" or shard not like {self._param('shard_family')})"
                )
                params |= {"shard": shard.key, "shard_family": f"%/{shard.count}"}
            statements += [
                Statement(f"delete from {table} where {where}", params)
                for table in (self._state, self._quarantine, self._record)
            ]
        self._warehouse.run_transaction(statements)

    def exclusion(self, model: str, shard: str) -> RowFilter | None:
        if not self._exists():
            return None
        dialect = self._warehouse.dialect
        return RowFilter(
            where=(
                f"not exists (select 1 from {self._record} as recorded"
                f" where recorded.model = {dialect.param('record_model')}"
                f" and recorded.shard = {dialect.param('record_shard')}"
                f" and recorded.uuid = {qualified_column(self._warehouse, 'uuid')})"
            ),
            params={"record_model": model, "record_shard": shard},
        )

    def quarantined_counts(self, model: str, since: dt.date, until: dt.date) -> DayEventCounts:
        counts = DayEventCounts()
        if not self._exists():
            return counts
        rows = self._warehouse.fetch(
            "select cast(event_timestamp as date), event, count(distinct uuid)"
            f" from {self._quarantine} where model = {self._param('model')}"
            " and uuid is not null and event is not null"
            f" and event_timestamp >= {self._param('event_timestamp__since')}"
            f" and event_timestamp < {self._param('event_timestamp__until')}"
            " group by 1, 2",
            {
                "model": model,
                "event_timestamp__since": dt.datetime.combine(since, dt.time()),
                "event_timestamp__until": dt.datetime.combine(until, dt.time()),
            },
        )
        for day, event, count in rows:
            counts[(_as_date(day), event)] += int(count)
        return counts


def _naive_utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        return value
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def _as_date(value: dt.date | dt.datetime) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value
