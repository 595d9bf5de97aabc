"""Read windows: spiky hours are split finer; a window that does not fit is retried smaller."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Iterator

import duckdb
import pyarrow as pa
import pytest

from loader.conftest import OLD, Project, payload_for, rows_for
from posthog_loader.dbt import Target
from posthog_loader.errors import WarehouseError, WindowTooLargeError
from posthog_loader.read import ModelReader, RowFilter
from posthog_loader.state import WarehouseStateStore
from posthog_loader.warehouse import duckdb as duckdb_warehouse
from posthog_loader.warehouse.base import Params, Statement
from posthog_loader.warehouse.duckdb import DuckDBWarehouse

FAR_FUTURE = dt.datetime(2100, 1, 1)


class RecordingWarehouse(DuckDBWarehouse):
    """The real DuckDB connector, noting each window's size and refusing windows over a limit
    the way DuckDB refuses a sort that does not fit its memory."""

    def __init__(self, project: Project, refuse_over: int | None = None) -> None:
        target = Target("p", "t", "duckdb", {"path": str(project.db_path), "schema": "main"})
        super().__init__(target, read_only=True, memory_limit="64MB")
        self.refuse_over = refuse_over
        self.window_sizes: list[int] = []

    def stream(self, sql: str, params: Params, batch_rows: int) -> Iterator[pa.RecordBatch]:
        batches = list(super().stream(sql, params, batch_rows))
        rows = sum(batch.num_rows for batch in batches)
        if self.refuse_over is not None and rows > self.refuse_over:
            raise WindowTooLargeError("window does not fit")
        self.window_sizes.append(rows)
        yield from batches


def _events_reader(
    warehouse: DuckDBWarehouse, window_rows: int, filters: list[RowFilter] | None = None
) -> ModelReader:
    return ModelReader(
        warehouse,
        '"warehouse"."analytics"."posthog_events"',
        after=None,
        recent_from=FAR_FUTURE,
        hold_recent=True,
        window_rows=window_rows,
        filters=filters or [],
    )


def _read_uuids(warehouse: DuckDBWarehouse, window_rows: int) -> list[str]:
    reader = _events_reader(warehouse, window_rows)
    return [
        uuid for batch in reader.read(reader.plan()) for uuid in batch.column("uuid").to_pylist()
    ]


@pytest.fixture
def spiky(empty_project: Project) -> Project:
    """300 events in one busy hour (one every 7 s), then 60 spread over a day."""
    busy = rows_for("events", 300, start=OLD, step=dt.timedelta(seconds=7))
    quiet = rows_for(
        "events", 360, start=OLD + dt.timedelta(hours=2), step=dt.timedelta(minutes=24)
    )
    empty_project.set_rows("events", busy + quiet[300:])
    return empty_project


def test_an_hour_over_the_window_budget_is_split_by_minute(spiky: Project):
    warehouse = RecordingWarehouse(spiky)

    uuids = _read_uuids(warehouse, window_rows=50)

    assert uuids == [row.uuid for row in spiky.rows["events"]]
    assert max(warehouse.window_sizes) <= 50
    warehouse.close()


def test_a_window_that_does_not_fit_is_read_again_in_smaller_windows(spiky: Project):
    warehouse = RecordingWarehouse(spiky, refuse_over=20)

    uuids = _read_uuids(warehouse, window_rows=100)

    assert uuids == [row.uuid for row in spiky.rows["events"]]
    assert max(warehouse.window_sizes) <= 20
    warehouse.close()


def test_rows_that_cannot_be_split_any_further_stop_the_read(empty_project: Project):
    same_second = rows_for("events", 30, step=dt.timedelta(0))
    empty_project.set_rows("events", same_second)
    warehouse = RecordingWarehouse(empty_project, refuse_over=10)

    with pytest.raises(WindowTooLargeError):
        _read_uuids(warehouse, window_rows=100)
    warehouse.close()


@pytest.fixture
def wide_rows(empty_project: Project) -> Project:
    rows = rows_for("events", 3000, step=dt.timedelta(seconds=1))
    for row in rows:
        row.payload = payload_for(
            row.uuid, row.event, row.distinct_id, row.timestamp, blob="x" * 1200
        )
    empty_project.set_rows("events", rows)
    return empty_project


def _duckdb(project: Project, memory_limit: str) -> DuckDBWarehouse:
    target = Target("p", "t", "duckdb", {"path": str(project.db_path), "schema": "main"})
    return DuckDBWarehouse(target, read_only=True, memory_limit=memory_limit)


def test_duckdb_gets_more_memory_when_a_query_needs_it(wide_rows: Project, monkeypatch):
    monkeypatch.setattr(duckdb_warehouse, "STARTING_MEMORY_LIMIT", 1024**2)
    warehouse = _duckdb(wide_rows, "64MB")

    uuids = _read_uuids(warehouse, window_rows=3000)

    assert uuids == [row.uuid for row in wide_rows.rows["events"]]
    warehouse.close()


def test_duckdb_stops_with_advice_when_even_its_limit_is_not_enough(
    wide_rows: Project, monkeypatch
):
    monkeypatch.setattr(duckdb_warehouse, "STARTING_MEMORY_LIMIT", 1024**2)
    warehouse = _duckdb(wide_rows, "1MiB")

    with pytest.raises(WarehouseError, match="--duckdb-memory-limit"):
        _read_uuids(warehouse, window_rows=3000)
    warehouse.close()


def test_reading_duckdb_binds_no_parameters_so_pandas_stays_out_of_memory(spiky: Project):
    """DuckDB imports pandas (about 55 MB of a loader's memory) the first time it binds a parameter;
    the loader writes its values into the SQL instead, so a whole read leaves pandas unimported."""
    script = f"""
import datetime as dt, sys
from posthog_loader.dbt import Target
from posthog_loader.read import ModelReader, RowFilter
from posthog_loader.warehouse.duckdb import DuckDBWarehouse
target = Target("p", "t", "duckdb", {{"path": {str(spiky.db_path)!r}, "schema": "main"}})
reader = ModelReader(
    DuckDBWarehouse(target, read_only=True, memory_limit="64MB"),
    '"warehouse"."analytics"."posthog_events"',
    after=None, recent_from=dt.datetime(2100, 1, 1), hold_recent=True, window_rows=100,
)
rows = sum(batch.num_rows for batch in reader.read(reader.plan()))
print(rows, "pandas" in sys.modules)
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )

    assert result.stdout.split() == ["360", "False"]


def test_the_delivered_record_is_left_out_without_grouping_every_row_of_the_view(
    empty_project: Project, monkeypatch
):
    """DuckDB turns a correlated `not exists` into a grouping of every uuid the view holds, which
    over dbt's view of 10M events ran out of 1 GB before a row was read; the record is left out
    by an uncorrelated anti-join, in the memory of the record."""
    with duckdb.connect(str(empty_project.db_path)) as con:
        con.execute(
            "insert into staging.src_events select uuid()::varchar, 'e', 'd',"
            " timestamp '2024-01-01' + to_seconds(i), '{}' from range(1500000) as r(i)"
        )
        # Like dbt's view on DuckDB: the rows joined back to where their payload comes from
        con.execute(
            "create or replace view analytics.posthog_events as select events.*, shard_key"
            " from staging.src_events as events join (select uuid, try_cast('0x' || substr(uuid,"
            " 29, 8) as bigint) as shard_key from staging.src_events) as keys using (uuid)"
        )
    monkeypatch.setattr(duckdb_warehouse, "STARTING_MEMORY_LIMIT", 16 * 1024**2)
    target = Target("p", "t", "duckdb", {"path": str(empty_project.db_path), "schema": "main"})
    warehouse = DuckDBWarehouse(target, read_only=False, memory_limit="64MB")
    store = WarehouseStateStore(warehouse, "warehouse", "main")
    store.prepare()
    warehouse.execute(
        Statement(
            "insert into main.posthog_load_delivered (model, shard, uuid)"
            " select 'events', 'all', uuid from staging.src_events limit 1000"
        )
    )
    exclusion = store.exclusion("events", "all")
    assert exclusion is not None
    reader = _events_reader(warehouse, window_rows=2_000_000, filters=[exclusion])

    assert reader.plan().rows == 1_499_000
    warehouse.close()
