"""DuckDB connector: the file dbt-duckdb built, with a memory cap so the loader's RSS stays flat."""

import contextlib
import re
import shutil
import tempfile
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path

import duckdb
import orjson
import pyarrow as pa

from posthog_loader.dbt import Target
from posthog_loader.errors import ConfigError, NotBuiltError, WarehouseError, WindowTooLargeError
from posthog_loader.warehouse.base import Dialect, Params, Statement, Warehouse, sql_literal


class DuckDBDialect(Dialect):
    name = "duckdb"

    def param(self, name: str) -> str:
        return f"${name}"

    def quote(self, identifier: str) -> str:
        return '"' + identifier.replace('"', '""') + '"'

    def json_rows(self, param: str, fields: Sequence[str], timestamps: Collection[str]) -> str:
        structure = orjson.dumps([dict.fromkeys(fields, "VARCHAR")]).decode()
        columns = ", ".join(
            f"cast(json_row.{name} as timestamp) as {name}"
            if name in timestamps
            else f"json_row.{name} as {name}"
            for name in fields
        )
        return (
            f"select {columns} from (select unnest(from_json({self.param(param)},"
            f" '{structure}')) as json_row)"
        )


_PLACEHOLDER = re.compile(r"\$(\w+)")


def inline_params(sql: str, params: Params) -> str:
    """The statement with its parameters written in as literals: DuckDB imports pandas (about 55 MB
    of the loader's memory) the first time it binds one, and the values are the loader's own."""
    return _PLACEHOLDER.sub(
        lambda match: sql_literal(params[match[1]]) if match[1] in params else match[0], sql
    )


# DuckDB starts with this memory_limit and doubles it, up to --duckdb-memory-limit, whenever a
# query does not fit: a plain table is read in little memory, an expensive view gets what it needs.
STARTING_MEMORY_LIMIT = 48 * 1024**2
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """Bytes in a size like DuckDB's memory_limit: 512MB, 1GB, 256MiB, 1.5GiB."""
    match = _SIZE.match(text)
    if match is None:
        raise ConfigError(f"--duckdb-memory-limit {text!r}: expected a size such as 512MB or 1GB.")
    number, unit = float(match.group(1)), match.group(2).lower()
    base = 1024 if "i" in unit else 1000
    scale = base ** "bkmgt".index(unit[0]) if unit else 1
    return int(number * scale)


class DuckDBWarehouse(Warehouse):
    dialect = DuckDBDialect()
    # DuckDB sorts each window inside the loader's own memory: windows that sort within the
    # starting memory limit, and cheap enough as queries on a table not to need more.
    default_window_rows = 25_000

    def __init__(self, target: Target, *, read_only: bool, memory_limit: str) -> None:
        self._target = target
        self._memory_ceiling = parse_size(memory_limit)
        self._memory_limit = min(STARTING_MEMORY_LIMIT, self._memory_ceiling)
        raw_path = target.settings.get("path")
        if not raw_path or raw_path == ":memory:":
            raise ConfigError(
                f"Target '{target.name}' (duckdb) needs `path:` pointing at the database file dbt "
                "builds; an in-memory database has nothing to load."
            )
        # Relative paths resolve against the working directory, exactly as dbt-duckdb does.
        self._path = Path(str(raw_path)).expanduser()
        if not self._path.is_file():
            raise NotBuiltError(
                f"DuckDB database {self._path} (target '{target.name}', `path:`) does not exist. "
                f"Run `dbt build --target {target.name}` first."
            )
        # Spill directory of our own, so sorting a window never grows memory past the limit.
        self._temp_dir = Path(tempfile.mkdtemp(prefix="posthog-loader-duckdb-"))
        config = {
            # One thread: the loader's own threads and gzip need the other cores, and DuckDB
            # keeps less sort state (a lower memory floor) with one thread.
            "threads": "1",
            **{key: str(value) for key, value in (target.settings.get("settings") or {}).items()},
            "memory_limit": f"{self._memory_limit}B",
            "temp_directory": str(self._temp_dir),
        }
        try:
            self._connection = duckdb.connect(str(self._path), read_only=read_only, config=config)
        except duckdb.Error as error:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            raise WarehouseError(
                f"Cannot open DuckDB database {self._path}: {error}. DuckDB allows one writing "
                "process per file: if dbt or another load-posthog is using it, wait for it to "
                "finish (or pass --state-file so the loader opens the file read-only)."
            ) from None
        self._schema = str(target.settings.get("schema") or "main")
        self._database = self._connection.execute("select current_database()").fetchone()[0]

    @property
    def default_location(self) -> tuple[str | None, str]:
        return self._database, self._schema

    def _translate(self, error: duckdb.Error) -> WarehouseError:
        if isinstance(error, duckdb.OutOfMemoryException):
            return WarehouseError(
                f"DuckDB ran out of memory reading {self._path}: {error}. Raise "
                "--duckdb-memory-limit or lower --window-rows; the checkpoint is saved."
            )
        if isinstance(error, duckdb.CatalogException):
            return NotBuiltError(
                f"DuckDB {self._path}: {error}. The contract views are missing in target "
                f"'{self._target.name}': run `dbt build --target {self._target.name}` first."
            )
        return WarehouseError(f"DuckDB {self._path}: {error}")

    def _grow_memory(self) -> bool:
        """After an out-of-memory error: double DuckDB's memory limit, unless at the ceiling."""
        if self._memory_limit >= self._memory_ceiling:
            return False
        self._memory_limit = min(2 * self._memory_limit, self._memory_ceiling)
        with self._connection.cursor() as settings:
            settings.execute(f"set memory_limit = '{self._memory_limit}B'")
        return True

    def stream(self, sql: str, params: Params, batch_rows: int) -> Iterator[pa.RecordBatch]:
        while True:
            # A cursor of its own, so checkpoint writes can run beside the streaming read.
            cursor = self._connection.cursor()
            started = False
            try:
                # execute() streams the result; sql(query, params=...) would first materialise it
                # whole as a relation (several times slower, and the window held twice).
                reader = cursor.execute(inline_params(sql, params)).to_arrow_reader(batch_rows)
                for batch in reader:
                    started = True
                    yield batch
                return
            except duckdb.OutOfMemoryException as error:
                # Nothing was read yet: run the query again with more memory, or in smaller
                # windows once the ceiling is reached.
                if started:
                    raise self._translate(error) from None
                if not self._grow_memory():
                    raise WindowTooLargeError(
                        f"DuckDB ran out of memory reading a window of {self._path} within "
                        f"--duckdb-memory-limit ({error}). Raise the limit or lower --window-rows."
                    ) from None
            except duckdb.Error as error:
                raise self._translate(error) from None
            finally:
                cursor.close()

    def fetch(self, sql: str, params: Params) -> list[tuple]:
        while True:
            with self._connection.cursor() as cursor:
                try:
                    cursor.execute(inline_params(sql, params))
                    return cursor.fetchall() if cursor.description else []
                except duckdb.OutOfMemoryException as error:
                    if not self._grow_memory():
                        raise self._translate(error) from None
                except duckdb.Error as error:
                    raise self._translate(error) from None

    def execute(self, statement: Statement) -> None:
        self.fetch(statement.sql, statement.params)

    def run_transaction(self, statements: Sequence[Statement]) -> None:
        with self._connection.cursor() as cursor:
            try:
                cursor.execute("begin transaction")
                for statement in statements:
                    cursor.execute(inline_params(statement.sql, statement.params))
                cursor.execute("commit")
            except duckdb.Error as error:
                with contextlib.suppress(duckdb.Error):  # the failure may have ended it already
                    cursor.execute("rollback")
                raise self._translate(error) from None

    def column_names(self, database: str | None, schema: str, table: str) -> set[str]:
        rows = self.fetch(
            "select lower(column_name) from information_schema.columns"
            " where table_catalog = coalesce($database, current_database())"
            " and lower(table_schema) = lower($schema) and lower(table_name) = lower($table)",
            {"database": database, "schema": schema, "table": table},
        )
        return {name for (name,) in rows}

    def close(self) -> None:
        self._connection.close()
        shutil.rmtree(self._temp_dir, ignore_errors=True)
