"""The SQL the loader sends to Snowflake and BigQuery parses in their dialects (a static check:
the Snowflake path also runs against fakesnow, BigQuery's against an emulator in a later issue)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Sequence

import pyarrow as pa
import pytest
import sqlglot

from posthog_loader.batch import QuarantinedRow, Reason
from posthog_loader.read import ModelReader, Position
from posthog_loader.sharding import Shard
from posthog_loader.state import Checkpoint, StateUpdate, WarehouseStateStore
from posthog_loader.warehouse.base import Dialect, Params, Statement, Warehouse
from posthog_loader.warehouse.bigquery import BigQueryDialect
from posthog_loader.warehouse.snowflake import SnowflakeDialect

NOW = dt.datetime(2024, 5, 1, 12, 0)


class SqlRecorder(Warehouse):
    """A warehouse that answers nothing and remembers every statement it was given."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.statements: list[str] = []

    @property
    def default_location(self) -> tuple[str | None, str]:
        return "project", "analytics"

    def stream(self, sql: str, params: Params, batch_rows: int) -> Iterator[pa.RecordBatch]:
        self.statements.append(sql)
        return iter(())

    def fetch(self, sql: str, params: Params) -> list[tuple]:
        self.statements.append(sql)
        if "count(*)" in sql:  # the plan: one busy hour, so windows and refinement run too
            return [(NOW, 10, 0)]
        return []

    def execute(self, statement: Statement) -> None:
        self.statements.append(statement.sql)

    def run_transaction(self, statements: Sequence[Statement]) -> None:
        self.statements += [statement.sql for statement in statements]

    def column_names(self, database: str | None, schema: str, table: str) -> set[str]:
        return set()

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
    return warehouse.statements


@pytest.mark.parametrize(
    ("dialect", "read", "placeholder"),
    [
        (BigQueryDialect(), "bigquery", None),
        # sqlglot reads Snowflake binds as :name; the connector interpolates %(name)s itself.
        (SnowflakeDialect(), "snowflake", re.compile(r"%\((\w+)\)s")),
    ],
)
def test_every_statement_parses_in_the_warehouse_dialect(dialect, read, placeholder):
    statements = _statements(dialect)

    assert len(statements) >= 8  # plan, refinement, windows, DDL, save, reset
    for sql in statements:
        text = placeholder.sub(r":\1", sql) if placeholder else sql
        sqlglot.parse_one(text, read=read)
