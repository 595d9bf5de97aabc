"""bqemulator, as the warehouse suite starts it: its own CLI with the work-arounds below patched in, so the
shipped project runs on the emulator unchanged. Runs in the emulator's own venv (BQEMULATOR_VENV), never
shipped and never sent to a real BigQuery. Each is a bqemulator 1.4 gap against BigQuery's documented behaviour:

- A JSON subscript by a name, json[key] or json['$key'], becomes DuckDB's json[key], which takes a key starting
  with `$` for a JSONPath and fails ("JSON path error"); BigQuery's subscript takes any key as a member name.
- CAST(x AS NUMERIC) becomes DuckDB's DECIMAL, which is DECIMAL(18, 3): 1763258310519000 (microseconds since
  1970) does not fit, where BigQuery's NUMERIC is DECIMAL(38, 9).
- A SAFE. function (SAFE.TIMESTAMP, SAFE.PARSE_JSON) loses its SAFE when the emulator writes a statement back
  as BigQuery SQL before translating it (a view's body inlined into the query that reads it): sqlglot's BigQuery
  writer drops TRY, so text that is no time or no JSON fails the query instead of giving null. The writer keeps
  TRY(...) here, which the translation turns into DuckDB's TRY(...).
- PARSE_JSON(text) guarded by a CASE (`case when properties_are_an_object then parse_json(properties)...`)
  fails on text that is no JSON: DuckDB computes the repeated JSON(text) once for every row, outside the CASE,
  where BigQuery evaluates a CASE branch only for the rows that reach it. JSON(text) is sent as TRY(JSON(text)).
- Its pass pinning decimal literals to FLOAT64 (3.25 -> 3.25e0) tells code from strings by counting quotes and
  does not skip `--` comments: an apostrophe in a comment ("the session's start") flips it, and the digits of
  every later string literal are rewritten ('2024-07-06 12:34:56.789' -> '...56.789e0', which reads as a null
  TIMESTAMP). The pass here runs only on code, leaving strings and comments as they are.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any

from bqemulator.cli import main as bqemulator_main
from bqemulator.domain.result import Ok
from bqemulator.sql import translator as emulator_translator
from bqemulator.sql.rewriter.decimal_literals import _DECIMAL_RE
from bqemulator.sql.translator import SQLTranslator
from sqlglot import exp, parse_one
from sqlglot.generators.bigquery import BigQueryGenerator
from sqlglot_rewrite import rewrite_everywhere

_original_translate = SQLTranslator.translate


def _is_json_value(expression: Any) -> bool:
    return isinstance(expression, exp.ParseJSON) or (
        isinstance(expression, exp.Anonymous) and str(expression.this).upper() == "JSON"
    )


def member_by_key(expression: Any) -> Any:
    """json[key] by a name (a column or a string literal, not an array index) as DuckDB's
    json_extract(json, '$."<key>"'): a member name, never a path."""
    if not (
        isinstance(expression, exp.Bracket)
        and _is_json_value(expression.this)
        and len(expression.expressions) == 1
    ):
        return expression
    key = expression.expressions[0]
    if isinstance(key, exp.Literal):
        if not key.is_string:
            return expression
        quoted = key.name.replace("\\", "\\\\").replace('"', '\\"')
        path: Any = exp.Literal.string(f'$."{quoted}"')
    else:
        path = exp.Paren(
            this=exp.DPipe(
                this=exp.DPipe(this=exp.Literal.string('$."'), expression=key),
                expression=exp.Literal.string('"'),
            )
        )
    return exp.Anonymous(this="JSON_EXTRACT", expressions=[expression.this, path])


def json_or_null(expression: Any) -> Any:
    """JSON(text) as TRY(JSON(text)): null for text that is no JSON, where a CASE guards PARSE_JSON."""
    parent = expression.parent
    if (
        not _is_json_value(expression)
        or (isinstance(parent, exp.Anonymous) and str(parent.this).upper() == "TRY")
        or expression.find(exp.Select, exp.Subquery)  # DuckDB's TRY takes no subquery
    ):
        return expression
    return exp.Anonymous(this="TRY", expressions=[expression])


def translate(self: SQLTranslator, bq_sql: str, **kwargs: Any) -> Any:
    result = _original_translate(self, bq_sql, **kwargs)
    if isinstance(result, Ok) and _DECIMAL_WITHOUT_PRECISION.search(result.value):
        result = Ok(in_code(numeric_with_precision, result.value))
    if not isinstance(result, Ok) or ("[" not in result.value and "JSON(" not in result.value):
        return result
    try:
        tree = parse_one(result.value, read="duckdb")
    except Exception:  # what the emulator cannot parse, it runs as it was
        return result
    rewritten = tree.copy()
    for rewrite in (member_by_key, json_or_null):
        rewritten = rewrite_everywhere(rewritten, rewrite)
    return Ok(rewritten.sql(dialect="duckdb")) if rewritten != tree else result


# a string ('…', "…" with backslash escapes and doubled quotes), a backtick identifier or a comment: kept as is
_NOT_CODE = re.compile(
    r"'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.|\"\")*\"|`[^`]*`|--[^\n]*|/\*.*?\*/", re.DOTALL
)
# bare DECIMAL, or DECIMAL(18, 3) where a sqlglot round trip spelled DuckDB's default out (a view's inlined body)
_DECIMAL_WITHOUT_PRECISION = re.compile(
    r"\bDECIMAL\b(?:(?!\s*\()|\s*\(\s*18\s*,\s*3\s*\))", re.IGNORECASE
)


def in_code(rewrite: Callable[[str], str], bq_sql: str) -> str:
    """`rewrite` applied to the code of bq_sql only, its strings, identifiers and comments kept as they are."""
    parts, position = [], 0
    for match in _NOT_CODE.finditer(bq_sql):
        parts.append(rewrite(bq_sql[position : match.start()]))
        parts.append(match.group(0))
        position = match.end()
    parts.append(rewrite(bq_sql[position:]))
    return "".join(parts)


def numeric_with_precision(code: str) -> str:
    """NUMERIC as the emulator writes it for DuckDB, DECIMAL (which DuckDB reads as DECIMAL(18, 3)), as BigQuery's
    NUMERIC: DECIMAL(38, 9). Done on the translated SQL, as view bodies are inlined during translation (the
    project never asks for DECIMAL(18, 3) itself)."""
    return _DECIMAL_WITHOUT_PRECISION.sub("DECIMAL(38, 9)", code)


def rewrite_decimal_literals(bq_sql: str) -> str:
    """The emulator's FLOAT64 pinning of bare decimal literals, applied to code only."""
    return in_code(lambda code: _DECIMAL_RE.sub(r"\1.\2e0", code), bq_sql)


def main() -> int:
    BigQueryGenerator.TRY_SUPPORTED = True
    SQLTranslator.translate = translate  # type: ignore[method-assign]
    emulator_translator.rewrite_decimal_literals = rewrite_decimal_literals
    sys.argv[0] = "bqemulator"
    return bqemulator_main()


if __name__ == "__main__":
    sys.exit(main())
