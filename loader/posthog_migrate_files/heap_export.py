"""Heap's tables as files: the one-time export Heap support delivers, or the per-table CSV files PostHog's Heap
guide starts from. One file (or several) per table, named `<project>.<schema>.<table>.<ext>` (or `<table>.<ext>`):

- `.csv` with a header row (`time` as `2024-03-01 10:00:00.123 UTC` or without ` UTC`);
- `.json` / `.jsonl` / `.ndjson`, one object per line, as the one-time export writes them: custom properties nested
  under `properties`, the user keyed as `id = "(<env_id>,<user_id>)"` instead of `user_id`, user dates as text,
  epoch milliseconds or "Invalid date";
- any of them gzipped (`.gz`).

DuckDB infers each column's type (numbers stay numbers, as in a warehouse), except ids, which are kept as exact
text. The tables land where the Heap staging reads them, as a warehouse would hold them; a table the export lacks
(`sessions`, `user_migrations`) lands empty, so the build runs without it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

import duckdb

from posthog_migrate_files.landing import (
    Landing,
    LandingError,
    SourceFile,
    describe,
    literal,
    quote,
)

FILE_NAME = re.compile(
    r"^(?:.*\.)?(?P<table>[^.]+)\.(?P<format>csv|json|jsonl|ndjson)(?:\.gz)?$", re.IGNORECASE
)
# `id` as the one-time export writes it: "(<environment id>,<user id>)"
ENVIRONMENT_USER_ID = r"^\(\s*[0-9]+\s*,\s*([0-9]+)\s*\)$"
# Tables every Heap build reads; an export without them gets them empty.
EMPTY_TABLES = {
    "users": "user_id varchar, identity varchar, joindate timestamp, last_modified timestamp",
    "sessions": "session_id varchar, user_id varchar, time timestamp",
    "user_migrations": "from_user_id varchar, to_user_id varchar, time timestamp",
}


@dataclass(frozen=True)
class FileSummary:
    table_name: str
    file_path: str
    landed_rows: int


def is_id(column: str) -> bool:
    lower = column.lower()
    return lower == "id" or lower.endswith("_id")


class ExportReader:
    """The SQL reading one export file as Heap's warehouse table: ids as text, `properties` spread into columns,
    the user id taken out of the export's `(env,user)` pair."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def __call__(self, source: SourceFile) -> str:
        raw = self._raw(source)
        columns = describe(self.con, raw, source)
        names = {name.lower(): (name, kind) for name, kind, *_ in columns}
        # The export's `id` is "(<env_id>,<user_id>)": the user id is taken out of it and the pair dropped.
        keyed_by_pair = (
            "user_id" not in names and "id" in names and source.table != "user_migrations"
        )
        selected = [
            f"cast({quote(name)} as varchar) as {quote(name)}" if is_id(name) else quote(name)
            for name, kind, *_ in columns
            if not (name.lower() == "properties" and kind.startswith("STRUCT"))
            and not (keyed_by_pair and name.lower() == "id")
        ]
        if "properties" in names and names["properties"][1].startswith("STRUCT"):
            nested = self.con.execute(f"select unnest(properties) from {raw} limit 0").description
            for key, *_rest in nested:
                alias = f"properties_{key}" if key.lower() in names else key
                selected.append(f"properties.{quote(key)} as {quote(alias)}")
        if keyed_by_pair:
            pair = f"cast({quote(names['id'][0])} as varchar)"
            user_id = f"regexp_extract({pair}, '{ENVIRONMENT_USER_ID}', 1)"
            selected.append(f"coalesce(nullif({user_id}, ''), {pair}) as user_id")
        return f"(select {', '.join(selected)} from {raw})"

    def _raw(self, source: SourceFile) -> str:
        path = literal(source.path)
        match = FILE_NAME.match(source.path.rsplit("/", 1)[-1])
        assert match is not None
        if match["format"].lower() == "csv":
            # The dialect is given, not sniffed: on a damaged file (an unclosed quote) the sniffer picks another
            # header and reads no rows at all, where a fixed dialect stops with an error naming the file.
            dialect = "header = true, delim = ',', quote = '\"', escape = '\"'"
            header = describe(self.con, f"read_csv({path}, {dialect}, all_varchar = true)", source)
            id_types = ", ".join(
                f"{literal(name)}: 'VARCHAR'" for name, *_ in header if is_id(name)
            )
            # a table without id columns (Heap's _sync_history) takes no types: `types = {}` is not SQL
            types = f", types = {{{id_types}}}" if id_types else ""
            return f"read_csv({path}, {dialect}{types})"
        return (
            f"read_json({path}, format = 'newline_delimited', sample_size = -1, "
            "maximum_object_size = 67108864)"
        )


def list_export_files(con: duckdb.DuckDBPyConnection, folder: str) -> dict[str, list[SourceFile]]:
    try:
        listed = con.execute(
            "select filename, size, last_modified from read_blob(?) order by filename",
            [f"{folder}/*"],
        ).fetchall()
    except duckdb.Error as exc:
        raise LandingError(f"Cannot list {folder}: {str(exc).splitlines()[0]}") from exc
    tables: dict[str, list[SourceFile]] = defaultdict(list)
    for path, size, modified in listed:
        match = FILE_NAME.match(path.rsplit("/", 1)[-1])
        if match:
            table = match["table"].lower()
            tables[table].append(SourceFile(table, path, version=f"{size}@{modified}"))
    if not tables:
        raise LandingError(
            f"No Heap export files in {folder}: expected <project>.<schema>.<table>.csv, .json or .jsonl "
            "(optionally .gz), one or more per table."
        )
    return dict(tables)


def land_heap_files(con: duckdb.DuckDBPyConnection, folder: str, schema: str) -> list[FileSummary]:
    folder = folder.rstrip("/")
    tables = list_export_files(con, folder)
    landing = Landing(con, schema)
    reader = ExportReader(con)
    summaries = []
    for table, files in sorted(tables.items()):
        for landed in landing.land(table, files, reader):
            summaries.append(FileSummary(table, landed.file.path, landed.rows))
    for table, columns in EMPTY_TABLES.items():
        if table not in tables:
            con.execute(f"create or replace table {landing.relation(table)} ({columns})")
    landing.drop_tables_except(set(tables) | set(EMPTY_TABLES))
    return summaries


def as_rows(summaries: list[FileSummary]) -> dict[str, list]:
    return {
        "table_name": [s.table_name for s in summaries],
        "file_path": [s.file_path for s in summaries],
        "landed_rows": [s.landed_rows for s in summaries],
    }
