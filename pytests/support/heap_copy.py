"""Copy a Heap Connect schema from DuckDB (what `posthog-migrate-sample heap` writes) into a warehouse, shaped
the way Heap Connect lands it there.

- Snowflake: unquoted, so upper-case names (PAGEVIEWS.EVENT_ID); NUMBER(38,0) ids, TIMESTAMP_NTZ times.
- BigQuery: lower-case names, INT64 ids, TIMESTAMP times; users, sessions, pageviews and every event table are
  views over a `<name>_raw` table, as Heap builds them (the views here do not deduplicate, so both warehouses
  see exactly the rows DuckDB has).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

# Heap's own tables that are not views over a _raw twin on BigQuery.
BIGQUERY_PLAIN_TABLES = {"all_events", "user_migrations", "_sync_info"}
_DECIMAL = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)")
_SNOWFLAKE_TYPES = {
    "BIGINT": "NUMBER(38,0)",
    "INTEGER": "NUMBER(38,0)",
    "VARCHAR": "VARCHAR",
    "TIMESTAMP": "TIMESTAMP_NTZ",
    "DOUBLE": "FLOAT",
    "BOOLEAN": "BOOLEAN",
}
_BIGQUERY_TYPES = {
    "BIGINT": "INT64",
    "INTEGER": "INT64",
    "VARCHAR": "STRING",
    "TIMESTAMP": "TIMESTAMP",
    "DOUBLE": "FLOAT64",
    "BOOLEAN": "BOOL",
}
# Rows per BigQuery insertAll request.
_BIGQUERY_CHUNK = 5000


@dataclass(frozen=True)
class SourceTable:
    name: str
    # (column, DuckDB type) in table order
    columns: list[tuple[str, str]]
    rows: list[tuple]


def read_heap_tables(duckdb_path: Path, schema: str) -> Iterator[SourceTable]:
    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        names = con.execute(
            "select table_name from information_schema.tables where table_schema = ? order by 1",
            [schema],
        ).fetchall()
        for (name,) in names:
            columns = con.execute(
                "select column_name, data_type from information_schema.columns"
                " where table_schema = ? and table_name = ? order by ordinal_position",
                [schema, name],
            ).fetchall()
            rows = con.execute(f'select * from "{schema}"."{name}"').fetchall()
            yield SourceTable(name, columns, rows)


def snowflake_type(duckdb_type: str) -> str:
    if match := _DECIMAL.fullmatch(duckdb_type):
        return f"NUMBER({match[1]},{match[2]})"
    return _SNOWFLAKE_TYPES[duckdb_type]


def bigquery_type(duckdb_type: str) -> str:
    if _DECIMAL.fullmatch(duckdb_type):
        return "NUMERIC"
    return _BIGQUERY_TYPES[duckdb_type]


def _as_json_text(value: Any) -> Any:
    """Every value but booleans travels as a string, so ids above 2^53 and decimals keep every digit."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, float):
        return repr(value)
    return str(value)


def copy_heap_to_snowflake(cursor: Any, duckdb_path: Path, database: str, schema: str) -> list[str]:
    """Create `database`.`schema` and copy every table; returns the table names (as DuckDB spells them)."""
    cursor.execute(f"create database if not exists {database}")
    cursor.execute(f"create schema if not exists {database}.{schema}")
    copied = []
    for table in read_heap_tables(duckdb_path, schema):
        types = [snowflake_type(kind) for _, kind in table.columns]
        target = f"{database}.{schema}.{table.name}"
        cursor.execute(
            f"create or replace table {target} ("
            + ", ".join(
                f"{column} {kind}" for (column, _), kind in zip(table.columns, types, strict=True)
            )
            + ")"
        )
        if table.rows:
            # One statement per table: the rows as one JSON array, cast column by column on the way in.
            document = json.dumps([[_as_json_text(value) for value in row] for row in table.rows])
            casts = ", ".join(f"value[{index}]::{kind}" for index, kind in enumerate(types))
            cursor.execute(
                f"insert into {target} select {casts} from table(flatten(input => parse_json(%s)))",
                (document,),
            )
        copied.append(table.name)
    return copied


def _as_bigquery_json(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | int) and not isinstance(value, bool):
        return str(value)
    return value


def copy_heap_to_bigquery(client: Any, duckdb_path: Path, schema: str) -> list[str]:
    """Create the dataset `schema` and copy every table (as `<name>_raw` plus a view where Heap has one)."""
    from google.cloud import bigquery

    dataset = f"{client.project}.{schema}"
    client.create_dataset(dataset, exists_ok=True)
    copied = []
    for table in read_heap_tables(duckdb_path, schema):
        is_view = table.name not in BIGQUERY_PLAIN_TABLES
        stored = f"{dataset}.{table.name}_raw" if is_view else f"{dataset}.{table.name}"
        fields = [
            bigquery.SchemaField(column, bigquery_type(kind)) for column, kind in table.columns
        ]
        client.create_table(bigquery.Table(stored, schema=fields))
        names = [column for column, _ in table.columns]
        records = [
            {name: _as_bigquery_json(value) for name, value in zip(names, row, strict=True)}
            for row in table.rows
        ]
        for start in range(0, len(records), _BIGQUERY_CHUNK):
            errors = client.insert_rows_json(stored, records[start : start + _BIGQUERY_CHUNK])
            if errors:
                raise RuntimeError(f"insert into {stored} failed: {errors[:3]}")
        if is_view:
            client.query(
                f"create view `{dataset}.{table.name}` as select * from `{stored}`"
            ).result()
        copied.append(table.name)
    return copied
