"""Snowflake and BigQuery (local emulators) build the heavy models in slices too: a build killed part way resumes
at its first unfinished slice, and the result is DuckDB's one-shot build.
"""

from __future__ import annotations

import pytest

from support.dbt_project import DbtProject
from warehouses.conftest import BIGQUERY_VARS, WAREHOUSE_VARS
from warehouses.contract_rows import BigQueryClient, SnowflakeClient, WarehouseClient

pytestmark = pytest.mark.warehouses

CLASSIFIED = "int_heap_events__classified"
COLUMNS = "uuid, source_table, source_row_id, event, distinct_id, posthog_session_id, row_status, status_reason"


def _classified(client: WarehouseClient | DbtProject) -> list[tuple]:
    return sorted(
        tuple("" if value is None else str(value) for value in row)
        for row in client.query(f"select {COLUMNS} from {CLASSIFIED}")
    )


@pytest.mark.parametrize("name", ["snowflake", "bigquery"])
def test_a_killed_build_resumes_on_the_warehouse(
    name: str, request: pytest.FixtureRequest, duckdb_build: DbtProject
) -> None:
    project = request.getfixturevalue(f"{name}_build")
    build_vars = BIGQUERY_VARS if name == "bigquery" else WAREHOUSE_VARS
    client: WarehouseClient = (
        SnowflakeClient(request.getfixturevalue("fakesnow"))
        if name == "snowflake"
        else BigQueryClient(request.getfixturevalue("bigquery_emulator"))
    )
    project.dbt_killed_at(
        f"{CLASSIFIED}: slice 2 of", "run", "--select", CLASSIFIED, "--target", name,
        vars=build_vars,
    )  # fmt: skip

    resumed = project.dbt("run", "--select", CLASSIFIED, "--target", name, vars=build_vars).stdout
    assert f"{CLASSIFIED}: resuming build" in resumed, resumed[-3000:]
    assert f"{CLASSIFIED}: slice 1 of" not in resumed
    assert f"{CLASSIFIED}: slice 3 of" in resumed
    assert _classified(client) == _classified(duckdb_build)
