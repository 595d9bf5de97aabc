"""Snowflake and BigQuery (local emulators) build the heavy models in slices too: a build killed part way resumes
at its first unfinished slice, and the result is DuckDB's one-shot build.
"""

from __future__ import annotations

import json
import signal
import subprocess

import pytest

from support.dbt_project import BIN, DbtProject
from warehouses.conftest import WAREHOUSE_VARS
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
    client: WarehouseClient = (
        SnowflakeClient(request.getfixturevalue("fakesnow"))
        if name == "snowflake"
        else BigQueryClient(request.getfixturevalue("bigquery_emulator"))
    )
    command = [str(BIN / "dbt"), "run", "--select", CLASSIFIED, "--target", name]
    command += ["--vars", json.dumps(WAREHOUSE_VARS)]
    with subprocess.Popen(
        command, cwd=project.root, env=project.env, stdout=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None
        output = []
        for line in process.stdout:
            output.append(line)
            if f"{CLASSIFIED}: slice 2 of" in line:
                process.send_signal(signal.SIGKILL)
                break
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, "".join(output[-30:])

    resumed = project.dbt(
        "run", "--select", CLASSIFIED, "--target", name, vars=WAREHOUSE_VARS
    ).stdout
    assert f"{CLASSIFIED}: resuming build" in resumed, resumed[-3000:]
    assert f"{CLASSIFIED}: slice 1 of" not in resumed
    assert f"{CLASSIFIED}: slice 3 of" in resumed
    assert _classified(client) == _classified(duckdb_build)
