"""Snowflake and BigQuery (local emulators, real dbt adapters and clients) build the same contract views as DuckDB
from the same Heap, Amplitude and generic-source data, and Redshift (dbt-redshift and redshift_connector against
its PostgreSQL stand-in) from the same Heap data; their compiled SQL parses in their own dialect, and the loader
delivers every row from each of them through its real connector.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlglot

from support.dbt_project import DbtProject
from support.fake_posthog import CaptureServer
from support.warehouse_project import REDSHIFT_INCREMENTAL_SCHEMA, WarehouseProject
from warehouses.conftest import REDSHIFT_VARS
from warehouses.contract_rows import (
    CONTRACT_MODELS,
    BigQueryClient,
    ContractRow,
    DuckDBClient,
    RedshiftClient,
    SnowflakeClient,
    WarehouseClient,
    differences,
    pair_number_text_differences,
    read_contract,
    same_text_but_numbers,
)

pytestmark = pytest.mark.warehouses

WAREHOUSES = ("snowflake", "bigquery", "redshift")
# The sources each warehouse builds: Amplitude's export is not supported on Redshift yet.
SOURCES = {
    "snowflake": ("heap", "amplitude"),
    "bigquery": ("heap", "amplitude"),
    "redshift": ("heap",),
}
TOKEN = "phc_warehouse_suite_token"
LOADER = Path(sys.executable).parent / "load-posthog"
LOADER_TIMEOUT_SECONDS = 600
# The BigQuery emulator does not bind query parameters inside a multi-statement script (BigQuery does), which the
# loader's checkpoint transaction is: there the checkpoint goes to a local file. Snowflake keeps it in the
# warehouse, next to the views, as it would in production.
LOADER_STATE_ARGUMENTS = {
    "snowflake": [],
    "bigquery": ["--state-file", "load_state.json"],
    "redshift": [],
}


@dataclass(frozen=True)
class Built:
    """One warehouse after `dbt build`: its project copy and a client for its target schema."""

    name: str
    project: WarehouseProject
    client: WarehouseClient

    @property
    def sources(self) -> tuple[str, ...]:
        return SOURCES[self.name]


@pytest.fixture(params=WAREHOUSES)
def warehouse(request: pytest.FixtureRequest) -> Built:
    name = request.param
    project = request.getfixturevalue(f"{name}_build")
    client: WarehouseClient
    if name == "snowflake":
        client = SnowflakeClient(request.getfixturevalue("fakesnow"))
    elif name == "bigquery":
        client = BigQueryClient(request.getfixturevalue("bigquery_emulator"))
    else:
        client = RedshiftClient(request.getfixturevalue("redshift_stand_in"))
    return Built(name, project, client)


@pytest.fixture(scope="session")
def duckdb_rows(duckdb_build: DbtProject) -> dict[str, list[ContractRow]]:
    client = DuckDBClient(duckdb_build)
    return {model: read_contract(client, model) for model in CONTRACT_MODELS}


@pytest.mark.parametrize("model", CONTRACT_MODELS)
def test_contract_view_matches_duckdb_row_for_row(
    warehouse: Built, model: str, duckdb_rows: dict[str, list[ContractRow]]
) -> None:
    expected = [row for row in duckdb_rows[model] if row.source_name in warehouse.sources]
    actual = read_contract(warehouse.client, model, warehouse.sources)
    assert expected, f"the DuckDB build has no {model} rows: the sample is too small to compare"
    if warehouse.name == "redshift" and model == "posthog_persons":
        # PostgreSQL writes a whole double as 959 where DuckDB writes 959.0 (what Redshift writes, the stand-in
        # cannot tell), and a person's uuid hashes the text of its properties: such persons differ in uuid only.
        expected, actual, _ = pair_number_text_differences(expected, actual)
    problems = differences(expected, actual)
    assert not problems, f"{warehouse.name} {model} differs from DuckDB:\n" + "\n".join(problems)


def test_reconciliation_matches_duckdb(warehouse: Built, duckdb_build: DbtProject) -> None:
    columns = "source_name, source_table, table_role, source_rows, emitted_rows, quarantined_rows, skipped_rows"
    sources = ", ".join(f"'{name}'" for name in warehouse.sources)
    query = f"select {columns} from posthog_reconciliation where source_name in ({sources})"
    expected = sorted(duckdb_build.query(query))
    actual = sorted(
        tuple(int(value) if isinstance(value, int | float) else value for value in row)
        for row in warehouse.client.query(query)
    )
    assert expected
    # Heap's BigQuery layout adds the raw table under each view: accounted for, not read
    raw_twins = {row[1] for row in actual if row[2] == "raw twin"}
    if warehouse.name == "bigquery":
        assert "pageviews_raw" in raw_twins and "users_raw" in raw_twins
        assert all(row[3:] == (None, 0, 0, 0) for row in actual if row[1] in raw_twins)
    else:
        assert not raw_twins
    assert [row for row in actual if row[1] not in raw_twins] == expected


@pytest.mark.parametrize("model", CONTRACT_MODELS)
def test_redshift_payloads_are_duckdbs_bytes(
    request: pytest.FixtureRequest, model: str, duckdb_rows: dict[str, list[ContractRow]]
) -> None:
    """Redshift sends the bytes DuckDB sends: same keys in the same order, same escapes, same times; only a
    number's text may differ (263.6 and 263.60), and only where a number is."""
    request.getfixturevalue("redshift_build")
    expected = [row for row in duckdb_rows[model] if row.source_name == "heap"]
    actual = read_contract(
        RedshiftClient(request.getfixturevalue("redshift_stand_in")), model, ["heap"]
    )
    if model == "posthog_persons":
        expected, actual, _ = pair_number_text_differences(expected, actual)
    sent = {row.uuid: row.payload_text for row in actual}
    exact = [row.uuid for row in expected if sent.get(row.uuid) == row.payload_text]
    other = [row for row in expected if sent.get(row.uuid) != row.payload_text]
    assert len(exact) > len(other), "most payloads hold no number written differently"
    unlike = [
        f"{row.uuid}:\n  {row.payload_text}\n  {sent.get(row.uuid)}"
        for row in other
        if row.uuid not in sent or not same_text_but_numbers(row.payload_text, sent[row.uuid])
    ]
    assert not unlike, "payloads differ beyond a number's text:\n" + "\n".join(unlike[:3])


SQLGLOT_DIALECTS = {"snowflake": "snowflake", "bigquery": "bigquery", "redshift": "redshift"}


def test_compiled_sql_parses_in_the_warehouse_dialect(warehouse: Built) -> None:
    compiled = warehouse.project.compiled_sql()
    assert len(compiled) > 20, "dbt compiled almost nothing: the build did not run"
    failures = []
    for path, sql in sorted(compiled.items()):
        try:
            sqlglot.parse(sql, read=SQLGLOT_DIALECTS[warehouse.name])
        except sqlglot.errors.ParseError as error:
            failures.append(f"{path}: {str(error)[:300]}")
    assert not failures, "\n".join(failures)


def test_loader_delivers_every_row(warehouse: Built) -> None:
    # every row the warehouse's contract views hold (that they are DuckDB's rows is tested above)
    expected = {
        row.uuid for model in CONTRACT_MODELS for row in read_contract(warehouse.client, model)
    }
    assert expected
    command = [
        str(LOADER),
        "--project-dir", str(warehouse.project.root),
        "--target", warehouse.name,
        "--batch-events", "500",
        *LOADER_STATE_ARGUMENTS[warehouse.name],
    ]  # fmt: skip
    with CaptureServer([TOKEN]) as capture:
        result = warehouse.project.run_command(
            command,
            env={"POSTHOG_API_KEY": TOKEN, "POSTHOG_HOST": capture.url},
            timeout=LOADER_TIMEOUT_SECONDS,
        )
        received = capture.uuids()
    assert result.returncode == 0, f"load-posthog failed:\n{result.stdout}\n{result.stderr}"
    assert len(received) >= len(expected)
    assert set(received) == expected


def test_redshift_casts_to_text_keep_every_byte(request: pytest.FixtureRequest) -> None:
    """On Redshift a VARCHAR or TEXT without a length holds 256 bytes and a cast to it cuts longer values
    silently; PostgreSQL's has no limit, so the stand-in cannot catch one. The compiled SQL must not have any."""
    project: WarehouseProject = request.getfixturevalue("redshift_build")
    string_types = {sqlglot.exp.DataType.Type.VARCHAR, sqlglot.exp.DataType.Type.TEXT}
    unbounded = []
    for path, sql in sorted(project.compiled_sql().items()):
        for statement in sqlglot.parse(sql, read="redshift"):
            for cast in statement.find_all(sqlglot.exp.Cast) if statement else ():
                operand = cast.this
                # dbt's unit tests cast their fixture literals to the column's type: short ones lose nothing
                short_literal = (
                    isinstance(operand, sqlglot.exp.Literal) and len(operand.name.encode()) <= 256
                )
                if cast.to.this in string_types and not cast.to.expressions and not short_literal:
                    unbounded.append(f"{path}: {cast.sql(dialect='redshift')[:160]}")
    assert not unbounded, "casts to a 256-byte string:\n" + "\n".join(unbounded[:10])


# The functions the project calls on Redshift, by sqlglot's name for them, each one in Redshift's SQL reference:
# PostgreSQL runs many that Redshift lacks (json_build_object, string_agg, to_json...), so the stand-in would not
# notice one. A new function goes here once its Redshift page says it exists with the arguments used.
REDSHIFT_FUNCTIONS = frozenset(
    {
        "And", "Or", "Case", "If", "Cast", "Coalesce", "Nullif", "Count", "Max", "Min", "Sum", "RowNumber",
        "CurrentTimestamp",  # GETDATE()
        "Extract", "Floor", "Length", "Lower", "Substring", "Translate", "Trim", "StrPosition", "Pad",
        "MD5",
        "LowerHex",  # TO_HEX
        "FromBase",  # STRTOL
        "TimeToStr",  # TO_CHAR
        "ParseJSON",  # JSON_PARSE
        "RegexpExtract",  # REGEXP_SUBSTR
        "RegexpInstr", "RegexpReplace",
        "is_valid_json", "json_serialize", "json_typeof",
        "octet_length", "Greatest", "json_size",  # payload sizes: string, conditional and SUPER functions
    }
)  # fmt: skip


def test_redshift_sql_calls_only_redshift_functions(request: pytest.FixtureRequest) -> None:
    project: WarehouseProject = request.getfixturevalue("redshift_build")
    called: dict[str, str] = {}
    for path, sql in sorted(project.compiled_sql().items()):
        for statement in sqlglot.parse(sql, read="redshift"):
            for function in statement.find_all(sqlglot.exp.Func) if statement else ():
                name = (
                    function.name.lower()
                    if isinstance(function, sqlglot.exp.Anonymous)
                    else type(function).__name__
                )
                called.setdefault(name, str(path))
    unknown = {name: path for name, path in called.items() if name not in REDSHIFT_FUNCTIONS}
    assert not unknown, f"functions not checked against Redshift's reference: {unknown}"
    assert {"json_serialize", "RegexpExtract", "FromBase"} <= called.keys()


def test_redshift_incremental_contract_tables_match_duckdb(
    request: pytest.FixtureRequest, duckdb_rows: dict[str, list[ContractRow]]
) -> None:
    """posthog_contract_materialization: incremental on Redshift: built, then merged again on uuid
    (dbt-redshift's delete+insert), the tables hold DuckDB's rows once each."""
    project: WarehouseProject = request.getfixturevalue("redshift_build")
    client = RedshiftClient(
        request.getfixturevalue("redshift_stand_in"), REDSHIFT_INCREMENTAL_SCHEMA
    )
    variables = {**REDSHIFT_VARS, "posthog_contract_materialization": "incremental"}
    project.dbt("build", "--target", "redshift_incremental", vars=variables)
    # again: the contract tables merge their look-back window (dbt-redshift's delete+insert on uuid)
    project.dbt(
        "build", "--target", "redshift_incremental", "--select", "path:models/marts", vars=variables
    )
    for model in CONTRACT_MODELS:
        expected = [row for row in duckdb_rows[model] if row.source_name == "heap"]
        actual = read_contract(client, model)
        if model == "posthog_persons":
            expected, actual, _ = pair_number_text_differences(expected, actual)
        problems = differences(expected, actual)
        assert not problems, f"incremental {model} differs from DuckDB:\n" + "\n".join(problems)
