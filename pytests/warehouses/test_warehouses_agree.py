"""Snowflake and BigQuery (local emulators, real dbt adapters and clients) build the same contract views as DuckDB
from the same Heap and Amplitude data, their compiled SQL parses in their own dialect, and the loader delivers
every row from each of them through its real connector.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlglot

from support.dbt_project import DbtProject
from support.fake_posthog import CaptureServer
from support.warehouse_project import WarehouseProject
from warehouses.contract_rows import (
    CONTRACT_MODELS,
    BigQueryClient,
    ContractRow,
    DuckDBClient,
    SnowflakeClient,
    WarehouseClient,
    differences,
    read_contract,
)

pytestmark = pytest.mark.warehouses

WAREHOUSES = ("snowflake", "bigquery")
TOKEN = "phc_warehouse_suite_token"
LOADER = Path(sys.executable).parent / "load-posthog"
LOADER_TIMEOUT_SECONDS = 600
# The BigQuery emulator does not bind query parameters inside a multi-statement script (BigQuery does), which the
# loader's checkpoint transaction is: there the checkpoint goes to a local file. Snowflake keeps it in the
# warehouse, next to the views, as it would in production.
LOADER_STATE_ARGUMENTS = {"snowflake": [], "bigquery": ["--state-file", "load_state.json"]}


@dataclass(frozen=True)
class Built:
    """One warehouse after `dbt build`: its project copy and a client for its target schema."""

    name: str
    project: WarehouseProject
    client: WarehouseClient


@pytest.fixture(params=WAREHOUSES)
def warehouse(request: pytest.FixtureRequest) -> Built:
    name = request.param
    project = request.getfixturevalue(f"{name}_build")
    client: WarehouseClient
    if name == "snowflake":
        client = SnowflakeClient(request.getfixturevalue("fakesnow"))
    else:
        client = BigQueryClient(request.getfixturevalue("bigquery_emulator"))
    return Built(name, project, client)


@pytest.fixture(scope="session")
def duckdb_rows(duckdb_build: DbtProject) -> dict[str, list[ContractRow]]:
    client = DuckDBClient(duckdb_build)
    return {model: read_contract(client, model) for model in CONTRACT_MODELS}


@pytest.mark.parametrize("model", CONTRACT_MODELS)
def test_contract_view_matches_duckdb_row_for_row(
    warehouse: Built, model: str, duckdb_rows: dict[str, list[ContractRow]]
) -> None:
    expected = duckdb_rows[model]
    actual = read_contract(warehouse.client, model)
    assert expected, f"the DuckDB build has no {model} rows: the sample is too small to compare"
    problems = differences(expected, actual)
    assert not problems, f"{warehouse.name} {model} differs from DuckDB:\n" + "\n".join(problems)


def test_reconciliation_matches_duckdb(warehouse: Built, duckdb_build: DbtProject) -> None:
    columns = "source_name, source_table, table_role, source_rows, emitted_rows, quarantined_rows, skipped_rows"
    expected = sorted(duckdb_build.query(f"select {columns} from posthog_reconciliation"))
    actual = sorted(
        tuple(int(value) if isinstance(value, int | float) else value for value in row)
        for row in warehouse.client.query(f"select {columns} from posthog_reconciliation")
    )
    # Heap's BigQuery layout adds the raw table under each view: accounted for, not read
    raw_twins = {row[1] for row in actual if row[2] == "raw twin"}
    if warehouse.name == "bigquery":
        assert "pageviews_raw" in raw_twins and "users_raw" in raw_twins
        assert all(row[3:] == (None, 0, 0, 0) for row in actual if row[1] in raw_twins)
    else:
        assert not raw_twins
    assert [row for row in actual if row[1] not in raw_twins] == expected


SQLGLOT_DIALECTS = {"snowflake": "snowflake", "bigquery": "bigquery"}


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


def test_loader_delivers_every_row(
    warehouse: Built, duckdb_rows: dict[str, list[ContractRow]]
) -> None:
    expected = {row.uuid for model in CONTRACT_MODELS for row in duckdb_rows[model]}
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
