"""The SQL the loader sends to Snowflake, BigQuery and Redshift parses in their dialects (a static check:
each path also runs against its emulator or stand-in in pytests/warehouses)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Sequence

import pyarrow as pa
import pytest
import sqlglot

from posthog_loader.errors import LeaseHeldError
from posthog_loader.read import ModelReader, Position, Revisit
from posthog_loader.rows import QuarantinedRow, Reason
from posthog_loader.sharding import Shard, shard_filter
from posthog_loader.state import (
    RECORD_SCHEMA,
    Checkpoint,
    Forget,
    StateUpdate,
    WarehouseStateStore,
)
from posthog_loader.warehouse.base import Dialect, Params, Statement, Warehouse
from posthog_loader.warehouse.bigquery import BigQueryDialect
from posthog_loader.warehouse.redshift import RedshiftDialect
from posthog_loader.warehouse.snowflake import SnowflakeDialect

NOW = dt.datetime(2024, 5, 1, 12, 0)


class SqlRecorder(Warehouse):
    """A warehouse that answers nothing and remembers every statement it was given."""

    def __init__(self, dialect: Dialect, columns: set[str] | None = None) -> None:
        self.dialect = dialect
        self.statements: list[str] = []
        # What column_names answers for every table: none (nothing exists yet) by default.
        self.columns = columns or set()

    @property
    def default_location(self) -> tuple[str | None, str]:
        return "project", "analytics"

    def stream(self, sql: str, params: Params, batch_rows: int) -> Iterator[pa.RecordBatch]:
        self.statements.append(sql)
        return iter(())

    def fetch(self, sql: str, params: Params) -> list[tuple]:
        self.statements.append(sql)
        if "row_count" in sql:  # the plan: one busy hour, so windows and refinement run too
            return [(NOW, 10, 0)]
        if "count(*)" in sql:
            return [(1,)]
        return []

    def execute(self, statement: Statement) -> None:
        self.statements.append(statement.sql)

    def run_transaction(self, statements: Sequence[Statement]) -> None:
        self.statements += [statement.sql for statement in statements]

    def column_names(self, database: str | None, schema: str, table: str) -> set[str]:
        return self.columns

    def close(self) -> None:
        return None


def _statements(dialect: Dialect) -> list[str]:
    warehouse = SqlRecorder(dialect)
    relation = dialect.qualify("project", "analytics", "posthog_events")
    reader = ModelReader(
        warehouse,
        relation,
        after=Position(NOW, "0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b"),
        recent_from=NOW,
        hold_recent=True,
        window_rows=5,
    )
    list(reader.read(reader.plan()))
    store = WarehouseStateStore(warehouse, "project", "analytics")
    store.prepare()
    row = QuarantinedRow(
        "u", "$pageview", "d", NOW, "{}", Reason.EMPTY_EVENT, "event name is empty"
    )
    store.save("events", "all", StateUpdate(Checkpoint(Position(NOW, "u"), 10, 1), [row]))
    store.reset(["events"], Shard())

    # Once the state tables exist (an older state table, without recorded_from): the upgrade,
    # the record's anti-join with a shard and a look-back, its inserts and what runs forget.
    warehouse.columns = {"model", "shard"}
    store.prepare()
    shard = Shard(1, 4)
    exclusion = store.exclusion("events", shard.key)
    assert exclusion is not None
    sharded = ModelReader(
        warehouse,
        relation,
        after=Position(NOW, "0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b"),
        revisit=Revisit(NOW - dt.timedelta(days=3)),
        filters=[exclusion, shard_filter(shard, warehouse)],
        recent_from=NOW,
        hold_recent=True,
        window_rows=5,
    )
    list(sharded.read(sharded.plan()))
    recorded = pa.table(
        {"uuid": ["u", "v"], "timestamp": [NOW, NOW], "outcome": ["delivered", "quarantined"]},
        schema=RECORD_SCHEMA,
    )
    store.save(
        "events",
        shard.key,
        StateUpdate(
            Checkpoint(Position(NOW, "u"), 10, 1, NOW - dt.timedelta(days=3)),
            recorded=recorded,
            forget=Forget(NOW - dt.timedelta(days=3), relation),
        ),
    )
    store.shard_keys("events")
    store.quarantined_counts(
        "events", NOW.date(), NOW.date() + dt.timedelta(days=1), refused_by_posthog=False
    )
    # Leases: claim, renew (this recorder holds no rows, so the lease reads as lost), release.
    store.claim([("events", shard.key)])
    with pytest.raises(LeaseHeldError):
        store.renew()
    store.release()
    # --retry-quarantined: the refused rows' filter, and the save that releases them.
    refused = store.refused("events", shard.key)
    assert refused is not None
    retry = ModelReader(
        warehouse,
        relation,
        after=None,
        filters=[refused],
        recent_from=NOW,
        hold_recent=True,
        window_rows=5,
    )
    list(retry.read(retry.plan()))
    store.save(
        "events",
        shard.key,
        StateUpdate(Checkpoint(Position(NOW, "u"), 11, 0), recorded=recorded, released=["u"]),
    )
    store.reset(["events"], shard)
    return warehouse.statements


@pytest.mark.parametrize(
    ("dialect", "read", "placeholder"),
    [
        (BigQueryDialect(), "bigquery", None),
        # sqlglot reads Snowflake binds as :name; the connector interpolates %(name)s itself.
        (SnowflakeDialect(), "snowflake", re.compile(r"%\((\w+)\)s")),
        (RedshiftDialect(), "redshift", re.compile(r"%\((\w+)\)s")),
    ],
)
def test_every_statement_parses_in_the_warehouse_dialect(dialect, read, placeholder):
    statements = _statements(dialect)

    assert len(statements) >= 20  # plan, refinement, windows, DDL, saves, resets, record
    for sql in statements:
        text = placeholder.sub(r":\1", sql) if placeholder else sql
        sqlglot.parse_one(text, read=read)
