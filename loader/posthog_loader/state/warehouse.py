"""State tables next to the data, so a scheduled job on a fresh runner finds them, and so the
record of delivered uuids can be anti-joined by the warehouse while it reads."""

import datetime as dt
from collections.abc import Sequence

import orjson
import pyarrow as pa

from posthog_loader.errors import LeaseHeldError
from posthog_loader.read import Position, RowFilter, qualified_column
from posthog_loader.rows import POSTHOG_REFUSALS, QuarantinedRow
from posthog_loader.sharding import Shard
from posthog_loader.state.base import (
    LEASE_TABLE,
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
from posthog_loader.state.lease import LEASE_RENEW_EVERY, LEASE_TTL, Holder, lease_held
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
_LEASE_COLUMNS = ("model", "shard", "lease_id", "host", "pid", "claimed_at", "expires_at")
_TIMESTAMP_COLUMNS = {
    "claimed_at",
    "expires_at",
    "event_timestamp",
    "quarantined_at",
    "position_timestamp",
    "recorded_from",
    "recorded_at",
    "updated_at",
}
_INTEGER_COLUMNS = {"rows_delivered", "rows_quarantined", "pid"}
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
        self._lease = dialect.qualify(database, schema, LEASE_TABLE)
        self.description = f"warehouse table {self._state}"
        self.quarantine_location = f"warehouse table {self._quarantine}"
        self.checkpoint_interval = warehouse.checkpoint_interval
        self.lease_renew_interval = LEASE_RENEW_EVERY.total_seconds()
        # This run's lease, once claimed, and the (model, shard) keys it covers.
        self._holder: Holder | None = None
        self._leased: list[tuple[str, str]] = []

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
            LEASE_TABLE: (self._lease, _LEASE_COLUMNS),
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

    def claim(self, keys: Sequence[tuple[str, str]]) -> None:
        now = utc_now()
        holder = Holder.this_process(now)
        for model, shard in keys:
            where, key = self._key(model, shard)
            values = {
                **key,
                "lease_id": holder.lease_id,
                "host": holder.host,
                "pid": holder.pid,
                "claimed_at": now,
                "expires_at": now + LEASE_TTL,
            }
            self._warehouse.run_transaction(
                [
                    Statement(
                        f"delete from {self._lease} where {where}"
                        f" and expires_at < {self._param('expires_at__now')}",
                        {**key, "expires_at__now": now},
                    ),
                    self._insert(self._lease, values),
                ]
            )
            # Both of two runs claiming at once may see the other: both give up, neither sends.
            others = [
                (Holder(lease_id, host, int(pid), _naive_utc(since)), _naive_utc(expires))
                for lease_id, host, pid, since, expires in self._warehouse.fetch(
                    "select lease_id, host, pid, claimed_at, expires_at"
                    f" from {self._lease} where {where}",
                    key,
                )
                if lease_id != holder.lease_id and _naive_utc(expires) >= now
            ]
            for other, _ in others:
                if other.gone():  # a crashed run of this machine: its lease is void
                    self._drop_lease(model, shard, other.lease_id)
            live = sorted(
                ((other, expires) for other, expires in others if not other.gone()),
                key=lambda pair: pair[0].since,
            )
            if live:
                self._drop_lease(model, shard, holder.lease_id)
                self.release()
                other, expires = live[0]
                raise lease_held(model, shard, self.description, other, expires)
            self._holder = holder
            self._leased.append((model, shard))

    def _drop_lease(self, model: str, shard: str, lease_id: str) -> None:
        where, key = self._key(model, shard)
        self._warehouse.run_transaction(
            [
                Statement(
                    f"delete from {self._lease} where {where}"
                    f" and lease_id = {self._param('lease_id')}",
                    {**key, "lease_id": lease_id},
                )
            ]
        )

    def _renewal(self) -> Statement | None:
        """Push this run's leases' expiry out again (guarded by its lease id)."""
        if self._holder is None:
            return None
        return Statement(
            f"update {self._lease} set expires_at = {self._param('expires_at')}"
            f" where lease_id = {self._param('lease_id')}",
            {"expires_at": utc_now() + LEASE_TTL, "lease_id": self._holder.lease_id},
        )

    def renew(self) -> None:
        renewal = self._renewal()
        if renewal is None or self._holder is None:
            return
        self._warehouse.run_transaction([renewal])
        held = {
            (model, shard)
            for model, shard in self._warehouse.fetch(
                f"select model, shard from {self._lease} where lease_id = {self._param('lease_id')}",
                {"lease_id": self._holder.lease_id},
            )
        }
        for model, shard in self._leased:
            if (model, shard) not in held:
                raise LeaseHeldError(
                    f"This run's lease on {model} (shard {shard}) in {self.description} expired "
                    "and was taken over by another run; stopping so the two do not send the same "
                    "rows. Nothing is lost: run again once the other run is done."
                )

    def release(self) -> None:
        if self._holder is not None:
            for model, shard in self._leased:
                self._drop_lease(model, shard, self._holder.lease_id)
        self._holder, self._leased = None, []

    def _insert(self, table: str, values: dict[str, object]) -> Statement:
        return Statement(
            f"insert into {table} ({', '.join(values)})"
            f" values ({', '.join(self._param(name) for name in values)})",
            values,
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
        # The old entries of rows sent again go first, in the transaction that adds their outcome.
        statements = self._release(model, shard, update.released)
        statements += [
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
        statements.append(self._insert(self._state, values))
        renewal = self._renewal()
        if renewal is not None:
            statements.append(renewal)
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

    def _release(self, model: str, shard: str, uuids: Sequence[str]) -> list[Statement]:
        where, key = self._key(model, shard)
        if not self._warehouse.dialect.binds_json_rows:
            return self._release_values(where, key, uuids)
        statements = []
        for index, start in enumerate(range(0, len(uuids), _RECORD_CHUNK)):
            name = f"released_uuids__{index}"
            released = self._warehouse.dialect.json_rows(name, ("uuid",), set())
            encoded = orjson.dumps(
                [{"uuid": uuid} for uuid in uuids[start : start + _RECORD_CHUNK]]
            )
            statements += [
                Statement(
                    f"delete from {table} where {where}"
                    f" and uuid in (select released.uuid from ({released}) as released)",
                    {**key, name: encoded.decode()},
                )
                for table in (self._quarantine, self._record)
            ]
        return statements

    def _release_values(
        self, where: str, key: dict[str, object], uuids: Sequence[str]
    ) -> list[Statement]:
        statements = []
        for start in range(0, len(uuids), _RECORD_VALUES_CHUNK):
            chunk = uuids[start : start + _RECORD_VALUES_CHUNK]
            names = [f"released_uuid__{index}" for index in range(len(chunk))]
            listed = ", ".join(self._param(name) for name in names)
            statements += [
                Statement(
                    f"delete from {table} where {where} and uuid in ({listed})",
                    {**key, **dict(zip(names, chunk, strict=True))},
                )
                for table in (self._quarantine, self._record)
            ]
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

    def refused(self, model: str, shard: str) -> RowFilter | None:
        if not self._exists():
            return None
        dialect = self._warehouse.dialect
        refusals = sorted(POSTHOG_REFUSALS)
        reasons = {f"refused_reason_{index}": str(reason) for index, reason in enumerate(refusals)}
        condition = (
            f" refused.model = {dialect.param('refused_model')}"
            f" and refused.shard = {dialect.param('refused_shard')}"
            f" and refused.reason in ({', '.join(dialect.param(name) for name in reasons)})"
        )
        params = {"refused_model": model, "refused_shard": shard, **reasons}
        ((count,),) = self._warehouse.fetch(
            f"select count(*) from {self._quarantine} as refused where {condition}", params
        )
        if not count:
            return None
        return RowFilter(
            where=(
                f"{qualified_column(self._warehouse, 'uuid')} in (select refused.uuid"
                f" from {self._quarantine} as refused where {condition})"
            ),
            params=params,
        )

    def exclusion(self, model: str, shard: str) -> RowFilter | None:
        if not self._exists():
            return None
        dialect = self._warehouse.dialect
        uuid = qualified_column(self._warehouse, "uuid")
        # Uncorrelated: DuckDB turns a correlated `not exists` into a grouping of every row's uuid
        # first, which ran out of 1 GB over dbt's view of 10M events. The list holds no null, so
        # `not in` is the same anti-join, and rows without a uuid stay (they are never recorded).
        return RowFilter(
            where=(
                f"({uuid} is null or {uuid} not in (select recorded.uuid from {self._record}"
                f" as recorded where recorded.model = {dialect.param('record_model')}"
                f" and recorded.shard = {dialect.param('record_shard')}"
                " and recorded.uuid is not null))"
            ),
            params={"record_model": model, "record_shard": shard},
        )

    def quarantined_counts(
        self, model: str, since: dt.date, until: dt.date, *, refused_by_posthog: bool
    ) -> DayEventCounts:
        counts = DayEventCounts()
        if not self._exists():
            return counts
        refusals = sorted(POSTHOG_REFUSALS)
        names = [f"reason__{index}" for index in range(len(refusals))]
        rows = self._warehouse.fetch(
            "select cast(event_timestamp as date), event, count(distinct uuid)"
            f" from {self._quarantine} where model = {self._param('model')}"
            " and uuid is not null and event is not null"
            f" and event_timestamp >= {self._param('event_timestamp__since')}"
            f" and event_timestamp < {self._param('event_timestamp__until')}"
            f" and reason {'in' if refused_by_posthog else 'not in'}"
            f" ({', '.join(self._param(name) for name in names)})"
            " group by 1, 2",
            {
                "model": model,
                "event_timestamp__since": dt.datetime.combine(since, dt.time()),
                "event_timestamp__until": dt.datetime.combine(until, dt.time()),
                **{name: str(reason) for name, reason in zip(names, refusals, strict=True)},
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
