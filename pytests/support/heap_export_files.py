"""Write Heap tables as the files PostHog's Heap guide and Heap's one-time export give: one file per table,
`<project>.<schema>.<table>.<ext>`.

- CSV, as the guide's script reads them: a header row, `time` as `2024-03-01 10:00:00.123000 UTC` in some tables and
  without ` UTC` in others.
- JSON lines, as the one-time export writes them: ids and `time` on top, every other column nested under
  `properties`, users keyed as `id = "(<env_id>,<user_id>)"` with dates as epoch milliseconds or text; gzipped.
"""

from __future__ import annotations

import datetime as dt
import decimal
import gzip
import json
from pathlib import Path

import duckdb

PROJECT = "northwind"
ENVIRONMENT_ID = 2008543124
TOP_LEVEL = {"event_id", "user_id", "session_id", "time", "identity", "joindate", "last_modified"}


def _tables(con: duckdb.DuckDBPyConnection, schema: str) -> list[str]:
    return [
        name
        for (name,) in con.execute(
            "select table_name from information_schema.tables where table_schema = ? "
            "and table_name not in ('all_events', '_sync_info') order by 1",
            [schema],
        ).fetchall()
    ]


def write_csv_files(con: duckdb.DuckDBPyConnection, schema: str, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for index, table in enumerate(_tables(con, schema)):
        path = folder / f"{PROJECT}.{schema}.{table}.csv"
        suffix = " || ' UTC'" if index % 2 == 0 else ""
        columns = [name for name, *_ in con.execute(f'describe {schema}."{table}"').fetchall()]
        time_columns = {"time", "joindate", "last_modified"} & set(columns)
        replace = ", ".join(
            f"strftime({c}, '%Y-%m-%d %H:%M:%S.%f'){suffix} as {c}" for c in sorted(time_columns)
        )
        select = f"select * replace ({replace})" if replace else "select *"
        con.execute(
            f"copy ({select} from {schema}.\"{table}\") to '{path}' (header, delimiter ',')"
        )
        written.append(path)
    return written


def _json_value(value):
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, decimal.Decimal):
        # a DECIMAL(38,0) id is written as the exact integer, as a JSON export of it is
        return int(value) if value.as_tuple().exponent == 0 else float(value)
    return value


def write_json_export(con: duckdb.DuckDBPyConnection, schema: str, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for table in _tables(con, schema):
        relation = con.sql(f'select * from {schema}."{table}"')
        path = folder / f"{PROJECT}.{schema}.{table}.json.gz"
        with gzip.open(path, "wt", encoding="utf-8") as sink:
            for row in relation.fetchall():
                record = dict(zip(relation.columns, row, strict=True))
                line: dict = {k: _json_value(v) for k, v in record.items() if k in TOP_LEVEL}
                line["properties"] = {
                    k: _json_value(v)
                    for k, v in record.items()
                    if k not in TOP_LEVEL and v is not None
                }
                if table == "users":
                    line["id"] = f"({ENVIRONMENT_ID},{line.pop('user_id')})"
                    joined = record["joindate"]
                    # dates as the export gives them: epoch milliseconds, or text
                    line["joindate"] = (
                        int(joined.replace(tzinfo=dt.UTC).timestamp() * 1000) if joined else None
                    )
                if "user_id" in line and line["user_id"] is not None:
                    line["user_id"] = int(line["user_id"])
                sink.write(json.dumps(line) + "\n")
        written.append(path)
    return written
