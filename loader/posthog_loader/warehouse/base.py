"""The small interface every warehouse connector implements, plus its SQL dialect."""

import datetime as dt
import decimal
import re
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import pyarrow as pa

Params = Mapping[str, object]

_BARE_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def sql_literal(value: object, *, escape_backslashes: bool = False) -> str:
    """A Python value as a SQL literal, for a statement sent without bound parameters. An aware
    datetime becomes the UTC timestamp without zone the contract views compare with."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | decimal.Decimal):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return f"cast('{value.isoformat(sep=' ')}' as timestamp)"
    text = str(value)
    if escape_backslashes:
        text = text.replace("\\", "\\\\")
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class Statement:
    sql: str
    params: Params = field(default_factory=dict)


class Dialect(ABC):
    """The few SQL spellings that differ between warehouses."""

    name: ClassVar[str]
    text_type: ClassVar[str] = "varchar"
    integer_type: ClassVar[str] = "bigint"
    timestamp_type: ClassVar[str] = "timestamp"
    # Whether many rows travel as one bound JSON parameter (json_rows); if not, as multi-row INSERTs.
    binds_json_rows: ClassVar[bool] = True

    @abstractmethod
    def param(self, name: str) -> str:
        """Placeholder for the named query parameter `name`."""

    @abstractmethod
    def quote(self, identifier: str) -> str: ...

    def qualify(self, *parts: str | None) -> str:
        return ".".join(self.quote(part) for part in parts if part)

    def truncate(self, grain: str, column: str) -> str:
        """The timestamp `column` cut down to `grain` (hour, minute, second)."""
        return f"date_trunc('{grain}', {column})"

    @abstractmethod
    def json_rows(self, param: str, fields: Sequence[str], timestamps: Collection[str]) -> str:
        """A query over the rows of a JSON array of objects bound to `param`: one column per field
        (text; naive UTC timestamps for those in `timestamps`, ISO 8601 in the JSON).

        Many rows then travel in one statement and one parameter, which every warehouse binds the
        same way, instead of thousands of placeholders.
        """


class Warehouse(ABC):
    """A connection that streams query results as Arrow and runs small state transactions.

    Implementations must allow `stream` on one thread while `fetch`/`run_transaction` run on
    another: the reader streams rows while checkpoints are written beside it.
    """

    dialect: Dialect
    # How often checkpoints may be written; warehouses with expensive DML ask for less.
    checkpoint_interval: float = 1.0
    # Rows per read window unless --window-rows says otherwise: one sort each, and a query each.
    default_window_rows: int = 250_000

    @property
    @abstractmethod
    def default_location(self) -> tuple[str | None, str]:
        """(database, schema) of the target, where the loader's state tables go by default."""

    @abstractmethod
    def stream(self, sql: str, params: Params, batch_rows: int) -> Iterator[pa.RecordBatch]: ...

    @abstractmethod
    def fetch(self, sql: str, params: Params) -> list[tuple]: ...

    @abstractmethod
    def execute(self, statement: Statement) -> None: ...

    @abstractmethod
    def run_transaction(self, statements: Sequence[Statement]) -> None: ...

    def table_exists(self, database: str | None, schema: str, table: str) -> bool:
        return bool(self.column_names(database, schema, table))

    @abstractmethod
    def column_names(self, database: str | None, schema: str, table: str) -> set[str]:
        """Lower-cased column names of a table or view (empty if it does not exist)."""

    @abstractmethod
    def close(self) -> None: ...


def quote_if_needed(identifier: str, quote_char: str = '"') -> str:
    """Leave plain names bare (so case folding matches dbt's unquoted DDL), quote the rest."""
    if _BARE_IDENTIFIER.match(identifier):
        return identifier
    escaped = identifier.replace(quote_char, quote_char * 2)
    return f"{quote_char}{escaped}{quote_char}"
