"""Redshift connector (redshift_connector): results stream through a server-side cursor, a bounded number of
rows at a time, on a connection of their own; checkpoints and state run on a second connection.

redshift_connector decodes rows in Python, so this path reads tens of thousands of rows a second (bench/README.md);
for the largest histories UNLOAD to S3 is the faster way out (README: "Run it on Redshift")."""

import contextlib
import re
from collections.abc import Collection, Iterator, Sequence
from typing import Any

import pyarrow as pa
import redshift_connector
from redshift_connector.error import Error, InterfaceError

from posthog_loader.dbt import Target
from posthog_loader.errors import ConfigError, NotBuiltError, WarehouseError
from posthog_loader.warehouse.base import Dialect, Params, Statement, Warehouse, sql_literal

_UNDEFINED_TABLE = "42P01"
_DEFAULT_PORT = 5439
# Redshift's VARCHAR holds at most 65535 bytes; a bare VARCHAR (or TEXT) is only 256.
MAX_VARCHAR = "varchar(65535)"
# Arrow types for the type OIDs Redshift reports; others are inferred from the values.
_ARROW_TYPES = {
    16: pa.bool_(),
    20: pa.int64(),
    21: pa.int64(),
    23: pa.int64(),
    25: pa.string(),
    700: pa.float64(),
    701: pa.float64(),
    1042: pa.string(),
    1043: pa.string(),
    1082: pa.date32(),
    1114: pa.timestamp("us"),
    1184: pa.timestamp("us", tz="UTC"),
}
# dbt-redshift's sslmode → redshift_connector's (dbt's own translation: the lenient modes verify the CA).
_SSL_MODES = {
    "allow": "verify-ca",
    "prefer": "verify-ca",
    "require": "verify-ca",
    "verify-ca": "verify-ca",
    "verify-full": "verify-full",
}
_CURSOR = "posthog_loader_read"
# Rows per FETCH: each is a round trip to the leader node, so fewer and larger than the batches handed on.
_FETCH_ROWS = 10_000
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


class RedshiftDialect(Dialect):
    name = "redshift"
    text_type = MAX_VARCHAR
    # Rows go in as multi-row INSERTs: a bound VARCHAR holds 64 KB, too little for a JSON array of them.
    binds_json_rows = False

    def param(self, name: str) -> str:
        return f"%({name})s"

    def quote(self, identifier: str) -> str:
        # Quoted, as dbt-redshift quotes its relations (Redshift folds even quoted names to lower case
        # unless enable_case_sensitive_identifier is on); `timestamp` needs it as a column name.
        return '"' + identifier.replace('"', '""') + '"'

    def json_rows(self, param: str, fields: Sequence[str], timestamps: Collection[str]) -> str:
        raise NotImplementedError("Redshift takes rows as multi-row INSERTs (binds_json_rows)")


def connect_arguments(target: Target) -> dict[str, Any]:
    """redshift_connector.connect arguments from a dbt-redshift target: the database, iam and iam_role
    methods, as dbt-redshift maps them."""
    settings = target.settings
    method = settings.get("method") or "database"
    host = settings.get("host")
    database = settings.get("dbname") or settings.get("database")
    if not host or not database:
        raise ConfigError(f"Target '{target.name}' (redshift) needs `host:` and `dbname:`.")
    sslmode = str(settings.get("sslmode") or "prefer")
    if sslmode != "disable" and sslmode not in _SSL_MODES:
        raise ConfigError(
            f"Target '{target.name}' (redshift) has sslmode {sslmode!r}; use one of disable, "
            f"{', '.join(_SSL_MODES)}."
        )
    try:
        port = int(settings.get("port") or _DEFAULT_PORT)
    except ValueError:
        raise ConfigError(f"Target '{target.name}' (redshift): `port:` must be a number.") from None
    serverless = "serverless" in str(host) or bool(settings.get("is_serverless"))
    arguments: dict[str, Any] = {
        "host": host,
        "port": port,
        "database": database,
        "region": settings.get("region"),
        "timeout": settings.get("connect_timeout"),
        "is_serverless": serverless,
        "ssl": sslmode != "disable",
        "application_name": "posthog-migrate",
        "tcp_keepalive": True,
    }
    if sslmode != "disable":
        arguments["sslmode"] = _SSL_MODES[sslmode]
    if method == "database":
        user, password = settings.get("user"), settings.get("password") or settings.get("pass")
        if not user or password is None:
            raise ConfigError(
                f"Target '{target.name}' (redshift, method database) needs `user:` and `password:` "
                "(password: \"{{ env_var('REDSHIFT_PASSWORD') }}\")."
            )
        return arguments | {"user": user, "password": password}
    if method not in ("iam", "iam_role"):
        raise ConfigError(
            f"Target '{target.name}' (redshift) has method {method!r}; the loader supports "
            "database, iam and iam_role."
        )
    arguments |= {
        "iam": True,
        "user": "",
        "password": "",
        "db_groups": settings.get("db_groups") or [],
        "auto_create": bool(settings.get("autocreate")),
    }
    if serverless:
        arguments |= {
            "serverless_work_group": settings.get("serverless_work_group"),
            "serverless_acct_id": settings.get("serverless_acct_id"),
        }
    elif settings.get("cluster_id"):
        arguments["cluster_identifier"] = settings["cluster_id"]
    else:
        raise ConfigError(
            f"Target '{target.name}' (redshift, method {method}) needs `cluster_id:` "
            "(or a serverless host)."
        )
    if settings.get("access_key_id") and settings.get("secret_access_key"):
        arguments |= {
            "access_key_id": settings["access_key_id"],
            "secret_access_key": settings["secret_access_key"],
        }
    elif settings.get("iam_profile"):
        arguments["profile"] = settings["iam_profile"]
    if method == "iam":
        if not settings.get("user"):
            raise ConfigError(f"Target '{target.name}' (redshift, method iam) needs `user:`.")
        arguments["db_user"] = settings["user"]
    else:
        arguments["group_federation"] = not serverless
    return arguments


def literal(value: object) -> str:
    """A Python value as a Redshift literal, for the one statement that takes no bound parameters
    (DECLARE); backslashes escape in Redshift's string literals."""
    return sql_literal(value, escape_backslashes=True)


def inline_params(sql: str, params: Params) -> str:
    return _PLACEHOLDER.sub(lambda match: literal(params[match.group(1)]), sql)


class RedshiftWarehouse(Warehouse):
    dialect = RedshiftDialect()

    def __init__(self, target: Target) -> None:
        self._target = target
        self._schema = str(target.settings.get("schema") or "public")
        arguments = connect_arguments(target)
        self._database = str(arguments["database"])
        self._connection = self._connect(arguments, autocommit=True)
        # Reads hold a transaction open for their cursor; checkpoints commit beside it.
        self._reader = self._connect(arguments, autocommit=False)

    def _connect(self, arguments: dict[str, Any], *, autocommit: bool) -> Any:
        try:
            connection = redshift_connector.connect(**arguments)
        except (Error, OSError) as error:
            raise WarehouseError(
                f"Cannot connect to Redshift for target '{self._target.name}': {_message(error)}. "
                "Check host, port, dbname, user and the password (or IAM settings) in profiles.yml."
            ) from None
        connection.autocommit = autocommit
        return connection

    @property
    def default_location(self) -> tuple[str | None, str]:
        # Redshift writes only to the database it is connected to, and names no database in DDL.
        return None, self._schema

    def _translate(self, error: Exception) -> WarehouseError:
        if _sqlstate(error) == _UNDEFINED_TABLE:
            return NotBuiltError(
                f"Redshift: {_message(error)}. The contract views are missing in target "
                f"'{self._target.name}': run `dbt build --target {self._target.name}` first."
            )
        return WarehouseError(f"Redshift: {_message(error)}")

    def _cursor(self, connection: Any) -> Any:
        cursor = connection.cursor()
        cursor.paramstyle = "pyformat"
        return cursor

    def stream(self, sql: str, params: Params, batch_rows: int) -> Iterator[pa.RecordBatch]:
        cursor = self._cursor(self._reader)
        try:
            cursor.execute(f"declare {_CURSOR} no scroll cursor for {inline_params(sql, params)}")
            while True:
                cursor.execute(f"fetch forward {max(_FETCH_ROWS, batch_rows)} from {_CURSOR}")
                rows = cursor.fetchall()
                if not rows:
                    break
                yield from _fetched_table(cursor.description, rows).to_batches(batch_rows)
        except Error as error:
            raise self._translate(error) from None
        finally:
            # Ends the read's transaction, which closes its cursor (also after an error).
            with contextlib.suppress(Error, InterfaceError):
                self._reader.rollback()
            cursor.close()

    def fetch(self, sql: str, params: Params) -> list[tuple]:
        cursor = self._cursor(self._connection)
        try:
            cursor.execute(sql, dict(params) or None)
            return [tuple(row) for row in cursor.fetchall()]
        except Error as error:
            raise self._translate(error) from None
        finally:
            cursor.close()

    def execute(self, statement: Statement) -> None:
        cursor = self._cursor(self._connection)
        try:
            cursor.execute(statement.sql, dict(statement.params) or None)
        except Error as error:
            raise self._translate(error) from None
        finally:
            cursor.close()

    def run_transaction(self, statements: Sequence[Statement]) -> None:
        cursor = self._cursor(self._connection)
        try:
            cursor.execute("begin")
            for statement in statements:
                cursor.execute(statement.sql, dict(statement.params) or None)
            cursor.execute("commit")
        except Error as error:
            with contextlib.suppress(
                Error, InterfaceError
            ):  # the failure may have ended it already
                cursor.execute("rollback")
            raise self._translate(error) from None
        finally:
            cursor.close()

    def column_names(self, database: str | None, schema: str, table: str) -> set[str]:
        # Tables and the views dbt-redshift creates (bound views; late-binding ones are not listed here).
        rows = self.fetch(
            "select lower(column_name) from information_schema.columns"
            " where lower(table_catalog) = lower(%(database)s)"
            " and lower(table_schema) = lower(%(schema)s) and lower(table_name) = lower(%(table)s)",
            {"database": database or self._database, "schema": schema, "table": table},
        )
        return {name for (name,) in rows}

    def close(self) -> None:
        for connection in (self._reader, self._connection):
            with contextlib.suppress(Error, InterfaceError, OSError):
                connection.close()


def _fetched_table(description: Sequence[Sequence[Any]], rows: Sequence[Sequence[Any]]) -> pa.Table:
    # one list per column: pyarrow converts a list several times faster than the tuples zip(*rows) gives
    arrays = [
        pa.array([row[index] for row in rows], type=_ARROW_TYPES.get(column[1]))
        for index, column in enumerate(description)
    ]
    return pa.Table.from_arrays(arrays, names=[_column_name(column[0]) for column in description])


def _column_name(name: str | bytes) -> str:
    return name.decode() if isinstance(name, bytes) else name


def _sqlstate(error: Exception) -> str | None:
    details = error.args[0] if error.args else None
    return details.get("C") if isinstance(details, dict) else None


def _message(error: Exception) -> str:
    """The server's own message (redshift_connector passes the whole error packet as a dict)."""
    details = error.args[0] if error.args else error
    if isinstance(details, dict):
        return str(details.get("M") or details)
    return str(details)
