"""Snowflake connector: results stream as Arrow chunks through fetch_arrow_batches."""

import contextlib
from collections.abc import Collection, Iterator, Sequence
from typing import Any

import pyarrow as pa
import snowflake.connector
from snowflake.connector.errors import DatabaseError, Error, ProgrammingError

from posthog_loader.dbt import Target
from posthog_loader.errors import ConfigError, NotBuiltError, WarehouseError
from posthog_loader.warehouse.base import Dialect, Params, Statement, Warehouse, quote_if_needed

_OBJECT_DOES_NOT_EXIST = 2003

# dbt-snowflake profile key → snowflake.connector.connect argument.
_CONNECT_ARGUMENTS = {
    "account": "account",
    "user": "user",
    "password": "password",
    "authenticator": "authenticator",
    "token": "token",
    "private_key_path": "private_key_file",
    "private_key_passphrase": "private_key_file_pwd",
    "role": "role",
    "warehouse": "warehouse",
    "database": "database",
    "schema": "schema",
    "host": "host",
    "port": "port",
    "protocol": "protocol",
    "connect_timeout": "login_timeout",
    "client_session_keep_alive": "client_session_keep_alive",
}


class SnowflakeDialect(Dialect):
    name = "snowflake"
    timestamp_type = "timestamp_ntz"

    def param(self, name: str) -> str:
        return f"%({name})s"

    def quote(self, identifier: str) -> str:
        # Unquoted, like dbt-snowflake's default DDL, so names fold to upper case the same way.
        return quote_if_needed(identifier)

    def json_rows(self, param: str, fields: Sequence[str], timestamps: Collection[str]) -> str:
        columns = ", ".join(
            f'value:"{name}"::{self.timestamp_type if name in timestamps else self.text_type}'
            f" as {name}"
            for name in fields
        )
        return f"select {columns} from table(flatten(input => parse_json({self.param(param)})))"


def connect_arguments(target: Target) -> dict[str, Any]:
    arguments = {
        argument: target.settings[key]
        for key, argument in _CONNECT_ARGUMENTS.items()
        if target.settings.get(key) not in (None, "")
    }
    for required in ("account", "user", "database", "schema"):
        if required not in arguments:
            raise ConfigError(f"Target '{target.name}' (snowflake) has no `{required}:`.")
    if "port" in arguments:
        port = str(arguments["port"]).strip()
        if not port.isdigit():
            raise ConfigError(
                f"Target '{target.name}' (snowflake) has a `port:` that is not a number. Set it "
                "to the port number (443 for Snowflake itself), or remove it."
            )
        arguments["port"] = int(port)
    if target.settings.get("query_tag"):
        arguments["session_parameters"] = {"QUERY_TAG": target.settings["query_tag"]}
    arguments["application"] = "posthog-migrate"
    return arguments


class SnowflakeWarehouse(Warehouse):
    dialect = SnowflakeDialect()

    def __init__(self, target: Target) -> None:
        self._target = target
        arguments = connect_arguments(target)
        self._database = str(arguments["database"])
        self._schema = str(arguments["schema"])
        try:
            self._connection = snowflake.connector.connect(**arguments)
        except Error as error:
            raise WarehouseError(
                f"Cannot connect to Snowflake for target '{target.name}': {error.msg or error}. "
                "Check the account, user and credentials in profiles.yml."
            ) from None

    @property
    def default_location(self) -> tuple[str | None, str]:
        return self._database, self._schema

    def _translate(self, error: Error) -> WarehouseError:
        if isinstance(error, ProgrammingError) and error.errno == _OBJECT_DOES_NOT_EXIST:
            return NotBuiltError(
                f"Snowflake: {error.msg}. The contract views are missing in target "
                f"'{self._target.name}': run `dbt build --target {self._target.name}` first."
            )
        return WarehouseError(f"Snowflake: {error.msg or error}")

    def stream(self, sql: str, params: Params, batch_rows: int) -> Iterator[pa.RecordBatch]:
        cursor = self._connection.cursor()
        try:
            cursor.execute(sql, dict(params))
            for table in cursor.fetch_arrow_batches():
                yield from table.to_batches(max_chunksize=batch_rows)
        except Error as error:
            raise self._translate(error) from None
        finally:
            cursor.close()

    def fetch(self, sql: str, params: Params) -> list[tuple]:
        with self._connection.cursor() as cursor:
            try:
                return list(cursor.execute(sql, dict(params)).fetchall())
            except Error as error:
                raise self._translate(error) from None

    def execute(self, statement: Statement) -> None:
        with self._connection.cursor() as cursor:
            try:
                cursor.execute(statement.sql, dict(statement.params))
            except Error as error:
                raise self._translate(error) from None

    def run_transaction(self, statements: Sequence[Statement]) -> None:
        with self._connection.cursor() as cursor:
            try:
                cursor.execute("begin")
                for statement in statements:
                    cursor.execute(statement.sql, dict(statement.params))
                cursor.execute("commit")
            except Error as error:
                with contextlib.suppress(DatabaseError):  # the failure may have ended it already
                    cursor.execute("rollback")
                raise self._translate(error) from None

    def column_names(self, database: str | None, schema: str, table: str) -> set[str]:
        catalog = self.dialect.quote(database or self._database)
        rows = self.fetch(
            f"select lower(column_name) from {catalog}.information_schema.columns"
            " where upper(table_schema) = upper(%(schema)s)"
            " and upper(table_name) = upper(%(table)s)",
            {"schema": schema, "table": table},
        )
        return {name for (name,) in rows}

    def close(self) -> None:
        self._connection.close()
