"""Land source files as DuckDB tables shaped the way Heap Connect's warehouses land them, where the Heap staging
models read them (the `heap_landing_schema`).

Each file is read by DuckDB where it lies (local or `s3://`) and inserted by column name, so a column that
appears in a later file is added to the table and earlier rows get NULL. A column whose type differs between files
is widened to text (exact: ids never pass through a float). What was landed is recorded per file in
`_posthog_landed_files`: a re-build re-reads only a table whose list of files changed, and appends when the old list
is a prefix of the new one (a new incremental dump), so a nightly build reads only the new dump.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import duckdb

LEDGER_TABLE = "_posthog_landed_files"
# Heap's documented time columns: landed as TIMESTAMP (UTC) whatever the file says (epoch ms, text, logical type).
TIME_COLUMNS = ("time", "joindate", "last_modified", "identity_time", "lastseen")
# Integers at or above this are epoch microseconds (in milliseconds they would be past the year 5000).
MICROSECONDS_FROM = 100_000_000_000_000


class LandingError(RuntimeError):
    """A source file cannot be landed as it is; the message names the file and what to do."""


@dataclass(frozen=True)
class SourceFile:
    table: str
    path: str
    dump_id: int | None = None
    # Size and modification time where the name alone does not pin the content (export files).
    version: str = ""


@dataclass(frozen=True)
class LandedFile:
    file: SourceFile
    rows: int


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


NUMERIC_TYPES = ("BIGINT", "INTEGER", "HUGEINT", "UBIGINT", "SMALLINT", "DOUBLE", "FLOAT")


def time_expression(column: str, duckdb_type: str) -> str:
    """SQL turning one of Heap's time columns, as this file types it, into a UTC TIMESTAMP."""
    quoted = quote(column)
    kind = duckdb_type.upper()
    if kind in NUMERIC_TYPES or kind.startswith("DECIMAL"):
        return epoch_expression(f"cast({quoted} as bigint)")
    if kind in ("VARCHAR", "BLOB", "JSON"):
        # `2024-03-01 10:00:00.123 UTC`, ISO 8601 with T or Z, epoch milliseconds as text, or Heap's
        # "Invalid date" (-> NULL: the row is quarantined, or the person falls back to another date)
        text = f"trim(cast({quoted} as varchar), ' \"')"
        stripped = f"regexp_replace({text}, '( UTC|Z|\\+00:?00)$', '')"
        return (
            f"case when regexp_full_match({text}, '-?[0-9]{{11,17}}') "
            f"then {epoch_expression(f'try_cast({text} as bigint)')} "
            f"else try_cast(replace({stripped}, 'T', ' ') as timestamp) end"
        )
    if kind.startswith("TIMESTAMP WITH TIME ZONE") or kind == "TIMESTAMPTZ":
        return f"timezone('UTC', {quoted})"
    return f"cast({quoted} as timestamp)"


def epoch_expression(as_int: str) -> str:
    """Epoch milliseconds (what Heap writes), or microseconds when the value is too large for milliseconds."""
    return (
        f"case when abs({as_int}) >= {MICROSECONDS_FROM} then make_timestamp({as_int}) "
        f"else epoch_ms({as_int}) end"
    )


class Landing:
    def __init__(self, connection: duckdb.DuckDBPyConnection, schema: str) -> None:
        self.con = connection
        self.schema = schema
        self.con.execute(f"create schema if not exists {quote(schema)}")
        self.con.execute(
            f"create table if not exists {self.relation(LEDGER_TABLE)} (table_name varchar, position integer, "
            "dump_id bigint, file varchar, version varchar, row_count bigint)"
        )

    def relation(self, table: str) -> str:
        return f"{quote(self.schema)}.{quote(table)}"

    def land(
        self,
        table: str,
        files: Sequence[SourceFile],
        reader: Callable[[SourceFile], str],
        extra_columns: Callable[[SourceFile], dict[str, str]] = lambda _: {},
        expected_rows: Callable[[SourceFile], int] | None = None,
    ) -> list[LandedFile]:
        """Make `table` hold exactly the rows of `files` (in order). `reader` gives the SQL relation reading one
        file; `extra_columns` adds columns (name -> SQL expression) to its rows; `expected_rows` counts a file's
        rows independently, so a file DuckDB reads only in part (a truncated Avro file) stops the build. A failure
        drops the table, so the next build lands it whole again."""
        try:
            return self._land(table, files, reader, extra_columns, expected_rows)
        except Exception:
            self.con.execute(f"drop table if exists {self.relation(table)}")
            self.con.execute(
                f"delete from {self.relation(LEDGER_TABLE)} where table_name = ?", [table]
            )
            raise

    def _land(
        self,
        table: str,
        files: Sequence[SourceFile],
        reader: Callable[[SourceFile], str],
        extra_columns: Callable[[SourceFile], dict[str, str]],
        expected_rows: Callable[[SourceFile], int] | None,
    ) -> list[LandedFile]:
        landed = self._landed(table)
        planned = [(f.dump_id, f.path, f.version) for f in files]
        already = [(dump_id, path, version) for dump_id, path, version, _ in landed]
        if already == planned and self._exists(table):
            return [LandedFile(f, rows) for f, (*_, rows) in zip(files, landed, strict=True)]
        keep = len(already) if already == planned[: len(already)] and self._exists(table) else 0
        if keep == 0:
            self.con.execute(f"drop table if exists {self.relation(table)}")
            self.con.execute(
                f"delete from {self.relation(LEDGER_TABLE)} where table_name = ?", [table]
            )
        results = [LandedFile(f, rows) for f, (*_, rows) in zip(files[:keep], landed, strict=False)]
        for position, source in enumerate(files[keep:], start=keep):
            expected = expected_rows(source) if expected_rows else None
            rows = self._land_file(table, source, reader(source), extra_columns(source))
            if expected is not None and rows != expected:
                raise LandingError(
                    f"{source.path} (table {table}) holds {expected} rows but DuckDB read {rows}: the file is "
                    "damaged. Copy it again from the source."
                )
            self.con.execute(
                f"insert into {self.relation(LEDGER_TABLE)} values (?, ?, ?, ?, ?, ?)",
                [table, position, source.dump_id, source.path, source.version, rows],
            )
            results.append(LandedFile(source, rows))
        return results

    def _land_file(
        self, table: str, source: SourceFile, relation: str, extra: dict[str, str]
    ) -> int:
        columns = describe(self.con, relation, source)
        selected = {}
        for name, duckdb_type, *_ in columns:
            lower = name.lower()
            if lower in selected:
                raise LandingError(f"{source.path} has two columns named {lower!r} (in any case).")
            selected[lower] = (
                time_expression(name, duckdb_type) if lower in TIME_COLUMNS else quote(name)
            )
        selected |= extra
        select = ", ".join(
            f"{expression} as {quote(name)}" for name, expression in selected.items()
        )
        query = f"select {select} from {relation}"
        try:
            if not self._exists(table):
                self.con.execute(f"create table {self.relation(table)} as {query}")
                return self.con.execute(f"select count(*) from {self.relation(table)}").fetchone()[
                    0
                ]
            self._conform(table, query)
            return self.con.execute(
                f"insert into {self.relation(table)} by name {query}"
            ).fetchone()[0]
        except duckdb.Error as exc:
            raise LandingError(
                f"{source.path} (table {table}) cannot be read: {_first_line(exc)}. A damaged or "
                "partly copied file: copy it again from the source."
            ) from exc

    def _conform(self, table: str, query: str) -> None:
        """Add the file's new columns to the table; widen a column whose type differs to text."""
        have = {
            name.lower(): (name, kind)
            for name, kind, *_ in self.con.execute(f"describe {self.relation(table)}").fetchall()
        }
        for name, kind, *_ in self.con.execute(f"describe {query}").fetchall():
            if name.lower() not in have:
                self.con.execute(
                    f"alter table {self.relation(table)} add column {quote(name)} {kind}"
                )
            elif have[name.lower()][1] != kind and have[name.lower()][1] != "VARCHAR":
                self.con.execute(
                    f"alter table {self.relation(table)} alter column {quote(have[name.lower()][0])} "
                    "type varchar"
                )

    def _exists(self, table: str) -> bool:
        return bool(
            self.con.execute(
                "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
                [self.schema, table],
            ).fetchone()[0]
        )

    def _landed(self, table: str) -> list[tuple[int | None, str, str, int]]:
        return self.con.execute(
            f"select dump_id, file, version, row_count from {self.relation(LEDGER_TABLE)} where table_name = ? "
            "order by position",
            [table],
        ).fetchall()

    def drop_tables_except(self, keep: set[str]) -> None:
        """Drop landed tables no longer in the source (and their ledger rows)."""
        for (table,) in self.con.execute(
            "select table_name from information_schema.tables where table_schema = ?", [self.schema]
        ).fetchall():
            if table not in keep and table != LEDGER_TABLE:
                self.con.execute(f"drop table if exists {self.relation(table)}")
                self.con.execute(
                    f"delete from {self.relation(LEDGER_TABLE)} where table_name = ?", [table]
                )


def describe(con: duckdb.DuckDBPyConnection, relation: str, source: SourceFile) -> list[tuple]:
    """The columns (name, type, ...) a file reads as; an unreadable file is named in the error."""
    try:
        return con.execute(f"describe select * from {relation}").fetchall()
    except duckdb.Error as exc:
        raise LandingError(
            f"{source.path} (table {source.table}) cannot be read: {_first_line(exc)}"
        ) from exc


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0]
