"""Run fakesnow's server (same arguments as `python -m fakesnow`) with fixes for two of its bugs.

Test-only: these patch the emulator, never the SQL the project sends, so a real Snowflake runs exactly what
the emulator ran. Each is a fakesnow 0.12 gap against Snowflake's documented behaviour:

- `$name` is taken for a session variable even inside a string literal or a comment ('$pageview'), so any
  statement holding a PostHog property name fails with "Session variable '$PAGEVIEW' does not exist".
- TRIM(x, characters) loses its characters argument and trims whitespace only.
- IS_OBJECT(variant) does not exist.
- TO_NUMBER(text, 'XXXXXXXX') (hexadecimal) is "not implemented".
- OBJECT_DELETE(object, key, ...) does not exist.
- GET(variant, key)::VARCHAR keeps a string's JSON quotes (fakesnow unquotes only literal paths like v:key).
- GET(variant, key) reads its key as a JSON path: '$set' fails, '$current_url' reads `current_url`.
- OBJECT_AGG(key, value) keeps its keys in row order; Snowflake's objects keep theirs sorted.
- TRY_TO_TIMESTAMP_TZ(text) and TRY_TO_TIMESTAMP_NTZ(text) of a column do not exist (sqlglot converts only a
  literal's).
"""

from __future__ import annotations

import re
import sys
from typing import Any

import fakesnow.cli
import fakesnow.transforms
import snowflake.connector.errors
from fakesnow.cursor import FakeSnowflakeCursor
from fakesnow.variables import Variables
from sqlglot import exp
from sqlglot_rewrite import rewrite_everywhere

_STRINGS_AND_COMMENTS = re.compile(r"'(?:[^'\\]|\\.|'')*'|--[^\n]*|/\*.*?\*/", re.DOTALL)
_SESSION_VARIABLE = re.compile(r"(?<![\$\w])\$(?!\d+)\w+")


def inline_variables(self: Variables, sql: str) -> str:
    for name, value in self._variables.items():
        sql = re.sub(rf"\${name}", value, sql, flags=re.IGNORECASE)
    if found := _SESSION_VARIABLE.search(_STRINGS_AND_COMMENTS.sub(" ", sql)):
        raise snowflake.connector.errors.ProgrammingError(
            msg=f"Session variable '{found.group().upper()}' does not exist"
        )
    return sql


_original_trim_cast_varchar = fakesnow.transforms.trim_cast_varchar


def trim_cast_varchar(expression: Any) -> Any:
    transformed = _original_trim_cast_varchar(expression)
    if isinstance(expression, exp.Trim) and expression.expression is not None:
        transformed.set("expression", expression.expression)
    return transformed


def is_object(expression: Any) -> Any:
    """IS_OBJECT(v) as DuckDB says it: json_type(v) = 'OBJECT' (null for null, like Snowflake)."""
    if isinstance(expression, exp.Anonymous) and str(expression.this).upper() == "IS_OBJECT":
        return exp.EQ(
            this=exp.Anonymous(this="JSON_TYPE", expressions=expression.expressions),
            expression=exp.Literal.string("OBJECT"),
        )
    return expression


_HEX_FORMAT = re.compile(r"[Xx]+")


def to_number_from_hex(expression: Any) -> Any:
    """TO_NUMBER(text, 'XXXX') as DuckDB says it: CAST('0x' || text AS BIGINT)."""
    if not isinstance(expression, exp.ToNumber):
        return expression
    format_ = expression.args.get("format")
    if not isinstance(format_, exp.Literal) or not _HEX_FORMAT.fullmatch(format_.name):
        return expression
    return exp.Cast(
        this=exp.DPipe(this=exp.Literal.string("0x"), expression=expression.this),
        to=exp.DataType.build("BIGINT"),
    )


def object_delete(expression: Any) -> Any:
    """OBJECT_DELETE(o, k1, k2) as DuckDB says it: a JSON merge patch setting each key to null removes it."""
    if not (
        isinstance(expression, exp.Anonymous) and str(expression.this).upper() == "OBJECT_DELETE"
    ):
        return expression
    obj, *keys = expression.expressions
    removals = [part for key in keys for part in (key, exp.Null())]
    return exp.Anonymous(
        this="JSON_MERGE_PATCH",
        expressions=[obj, exp.Anonymous(this="JSON_OBJECT", expressions=removals)],
    )


def _member_path(key: Any) -> Any:
    """A literal key as the DuckDB JSON path of that one member ($."key"), whatever it holds."""
    if not (isinstance(key, exp.Literal) and key.is_string):
        return key
    quoted = key.name.replace("\\", "\\\\").replace('"', '\\"')
    return exp.Literal.string(f'$."{quoted}"')


def get_cast_as_varchar(expression: Any) -> Any:
    """GET(v, key)::VARCHAR as DuckDB says it: json_extract_string(v, key), the member's text unquoted."""
    if not (
        isinstance(expression, exp.Cast)
        and isinstance(expression.this, exp.GetExtract)
        and expression.to.is_type(*exp.DataType.TEXT_TYPES)
    ):
        return expression
    get = expression.this
    member = exp.Anonymous(
        this="JSON_EXTRACT_STRING", expressions=[get.this, _member_path(get.expression)]
    )
    return exp.Cast(this=member, to=expression.to)


def get_member(expression: Any) -> Any:
    """GET(v, 'key') as DuckDB says it: json_extract(v, '$."key"'), the member named so, not a path."""
    if not (
        isinstance(expression, exp.GetExtract)
        and isinstance(expression.expression, exp.Literal)
        and expression.expression.is_string
    ):
        return expression
    return exp.Anonymous(
        this="JSON_EXTRACT", expressions=[expression.this, _member_path(expression.expression)]
    )


_TRY_TIMESTAMP_TYPES = {"TRY_TO_TIMESTAMP_TZ": "TIMESTAMPTZ", "TRY_TO_TIMESTAMP_NTZ": "TIMESTAMP"}


def try_to_timestamp(expression: Any) -> Any:
    """TRY_TO_TIMESTAMP_TZ/_NTZ(text) as DuckDB says it: TRY(CAST(text AS TIMESTAMPTZ / TIMESTAMP)), null for
    text that is no time (fakesnow turns a TRY_CAST to a timestamp into its own cast, which fails)."""
    if not (
        isinstance(expression, exp.Anonymous)
        and str(expression.this).upper() in _TRY_TIMESTAMP_TYPES
        and len(expression.expressions) == 1
    ):
        return expression
    to = exp.DataType.build(_TRY_TIMESTAMP_TYPES[str(expression.this).upper()])
    return exp.Anonymous(this="TRY", expressions=[exp.Cast(this=expression.expressions[0], to=to)])


def object_agg_in_key_order(expression: Any) -> Any:
    """OBJECT_AGG(k, v) as DuckDB says it, keys sorted as Snowflake keeps them: a map from lists in key order,
    rows with a null key or value left out."""
    if not isinstance(expression, exp.ObjectAgg):
        return expression
    key, value = expression.this, expression.expression
    both_present = exp.And(
        this=exp.Not(this=exp.Is(this=key.copy(), expression=exp.Null())),
        expression=exp.Not(this=exp.Is(this=value.copy(), expression=exp.Null())),
    )

    def in_key_order(item: Any) -> Any:
        ordered = exp.Order(this=item.copy(), expressions=[exp.Ordered(this=key.copy())])
        return exp.Filter(
            this=exp.Anonymous(this="LIST", expressions=[ordered]),
            expression=exp.Where(this=both_present.copy()),
        )

    return exp.Anonymous(
        this="TO_JSON",
        expressions=[
            exp.Anonymous(this="MAP", expressions=[in_key_order(key), in_key_order(value)])
        ],
    )


_original_transform = FakeSnowflakeCursor._transform


def transform(self: FakeSnowflakeCursor, expression: Any, params: Any) -> Any:
    for rewrite in (
        is_object,
        to_number_from_hex,
        object_delete,
        get_cast_as_varchar,
        get_member,
        object_agg_in_key_order,
        try_to_timestamp,
    ):
        expression = rewrite_everywhere(expression, rewrite)
    return _original_transform(self, expression, params)


def main() -> int:
    Variables.inline_variables = inline_variables  # type: ignore[method-assign]
    fakesnow.transforms.trim_cast_varchar = trim_cast_varchar
    FakeSnowflakeCursor._transform = transform  # type: ignore[method-assign]
    return fakesnow.cli.main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
