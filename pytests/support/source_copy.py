"""Copy a source schema from DuckDB (what `posthog-migrate-sample` writes) into a warehouse, shaped the way the
vendor lands it there.

- Snowflake: unquoted, so upper-case names (PAGEVIEWS.EVENT_ID, EVENTS_609539.EVENT_PROPERTIES); NUMBER(38,0)
  ids, TIMESTAMP_NTZ times, VARIANT for Amplitude's property objects.
- BigQuery: names as DuckDB spells them, INT64 ids, TIMESTAMP times, JSON property objects. Heap Connect serves
  users, sessions, pageviews and every event table as views over a `<name>_raw` table (the views here do not
  deduplicate, so both warehouses see exactly the rows DuckDB has); Amplitude types its ids as decimals.
- Redshift: lower-case names, BIGINT ids, VARCHAR(65535) strings (a bare VARCHAR or TEXT holds only 256 bytes
  there), TIMESTAMP (no zone, UTC) times.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

_DECIMAL = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)")
_SNOWFLAKE_TYPES = {
    "BIGINT": "NUMBER(38,0)",
    "HUGEINT": "NUMBER(38,0)",
    "INTEGER": "NUMBER(38,0)",
    "VARCHAR": "VARCHAR",
    "TIMESTAMP": "TIMESTAMP_NTZ",
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMP_TZ",
    "DOUBLE": "FLOAT",
    "BOOLEAN": "BOOLEAN",
    "JSON": "VARIANT",
}
_BIGQUERY_TYPES = {
    "BIGINT": "INT64",
    "HUGEINT": "INT64",
    "INTEGER": "INT64",
    "VARCHAR": "STRING",
    "TIMESTAMP": "TIMESTAMP",
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMP",
    "DOUBLE": "FLOAT64",
    "BOOLEAN": "BOOL",
    "JSON": "JSON",
}
_REDSHIFT_TYPES = {
    "BIGINT": "BIGINT",
    "HUGEINT": "DECIMAL(38,0)",
    "INTEGER": "INTEGER",
    "VARCHAR": "VARCHAR(65535)",
    "TIMESTAMP": "TIMESTAMP",
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMPTZ",
    "DOUBLE": "DOUBLE PRECISION",
    "BOOLEAN": "BOOLEAN",
}
# Rows per BigQuery insertAll request.
_BIGQUERY_CHUNK = 5000
# Bound values per multi-row INSERT on Redshift: the wire protocol counts parameters in 16 bits.
_REDSHIFT_PARAMETERS = 30_000


@dataclass(frozen=True)
class BigQueryLanding:
    """How a vendor lands its tables in BigQuery, beyond the default column types."""

    # Tables served as a view over a `<name>_raw` table.
    is_view_over_raw: Callable[[str], bool] = lambda name: False
    # Column types other than the default mapping, by column name.
    column_types: Mapping[str, str] = field(default_factory=dict)


# Heap's own tables that are not views over a _raw twin; and report_export beside report_export_raw, two event
# tables that Heap's BigQuery layout could not hold as views (the first view's raw table would be the second).
_HEAP_PLAIN_TABLES = {
    "all_events", "user_migrations", "_sync_info", "_sync_history", "report_export", "report_export_raw",
}  # fmt: skip
HEAP_ON_BIGQUERY = BigQueryLanding(is_view_over_raw=lambda name: name not in _HEAP_PLAIN_TABLES)
# Amplitude's export types these BIGNUMERIC, which the emulator cannot create (DuckDB's decimals stop at 38
# digits): NUMERIC stands in, a decimal all the same, so the models' casts to INT64 are exercised.
AMPLITUDE_ON_BIGQUERY = BigQueryLanding(
    column_types=dict.fromkeys(("amplitude_id", "merged_amplitude_id", "session_id"), "NUMERIC")
)


@dataclass(frozen=True)
class SourceTable:
    name: str
    # (column, DuckDB type) in table order
    columns: list[tuple[str, str]]
    rows: list[tuple]


def read_tables(duckdb_path: Path, schema: str) -> Iterator[SourceTable]:
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
    if match := _DECIMAL.fullmatch(duckdb_type):
        # an integer (a Snowflake-typed id) is INT64 in BigQuery, as Heap lands ids there
        return "INT64" if match[2] == "0" else "NUMERIC"
    return _BIGQUERY_TYPES[duckdb_type]


def _as_snowflake_json(value: Any, duckdb_type: str) -> Any:
    """A JSON column as its object; every other value but booleans as a string, so ids above 2^53 and decimals
    keep every digit."""
    if value is None or isinstance(value, bool):
        return value
    if duckdb_type == "JSON":
        return json.loads(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, float):
        return repr(value)
    return str(value)


def copy_to_snowflake(
    cursor: Any, duckdb_path: Path, duckdb_schema: str, database: str, schema: str
) -> list[str]:
    """Create `database`.`schema` and copy every table of `duckdb_schema` into it; returns the table names (as
    DuckDB spells them)."""
    cursor.execute(f"create database if not exists {database}")
    cursor.execute(f"create schema if not exists {database}.{schema}")
    copied = []
    for table in read_tables(duckdb_path, duckdb_schema):
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
            document = json.dumps(
                [
                    [
                        _as_snowflake_json(value, kind)
                        for value, (_, kind) in zip(row, table.columns, strict=True)
                    ]
                    for row in table.rows
                ]
            )
            casts = ", ".join(f"value[{index}]::{kind}" for index, kind in enumerate(types))
            cursor.execute(
                f"insert into {target} select {casts} from table(flatten(input => parse_json(%s)))",
                (document,),
            )
        copied.append(table.name)
    return copied


def _as_bigquery_json(value: Any) -> Any:
    """insertAll's JSON: times as ISO 8601, numbers as strings (every digit kept), JSON columns as their text."""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | int) and not isinstance(value, bool):
        return str(value)
    return value


def copy_to_bigquery(
    client: Any, duckdb_path: Path, duckdb_schema: str, dataset: str, landing: BigQueryLanding
) -> list[str]:
    """Create `dataset` and copy every table of `duckdb_schema` into it as `landing` says; returns the table
    names."""
    from google.cloud import bigquery

    dataset_id = f"{client.project}.{dataset}"
    client.create_dataset(dataset_id, exists_ok=True)
    copied = []
    for table in read_tables(duckdb_path, duckdb_schema):
        is_view = landing.is_view_over_raw(table.name)
        stored = f"{dataset_id}.{table.name}_raw" if is_view else f"{dataset_id}.{table.name}"
        fields = [
            bigquery.SchemaField(column, landing.column_types.get(column) or bigquery_type(kind))
            for column, kind in table.columns
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
                f"create view `{dataset_id}.{table.name}` as select * from `{stored}`"
            ).result()
        copied.append(table.name)
    return copied


def redshift_type(duckdb_type: str) -> str:
    if match := _DECIMAL.fullmatch(duckdb_type):
        return f"DECIMAL({match[1]},{match[2]})"
    return _REDSHIFT_TYPES[duckdb_type]


def copy_to_redshift(cursor: Any, duckdb_path: Path, duckdb_schema: str, schema: str) -> list[str]:
    """Create `schema` and copy every table of `duckdb_schema` into it, in multi-row INSERTs; returns the
    table names. The caller commits."""
    cursor.execute(f"create schema if not exists {schema}")
    copied = []
    for table in read_tables(duckdb_path, duckdb_schema):
        target = f"{schema}.{table.name}"
        cursor.execute(f"drop table if exists {target}")
        cursor.execute(
            f"create table {target} ("
            + ", ".join(f"{column} {redshift_type(kind)}" for column, kind in table.columns)
            + ")"
        )
        row_placeholders = "(" + ", ".join(["%s"] * len(table.columns)) + ")"
        chunk = max(1, _REDSHIFT_PARAMETERS // len(table.columns))
        for start in range(0, len(table.rows), chunk):
            rows = table.rows[start : start + chunk]
            cursor.execute(
                f"insert into {target} values " + ", ".join([row_placeholders] * len(rows)),
                [value for row in rows for value in row],
            )
        copied.append(table.name)
    return copied
