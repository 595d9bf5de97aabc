"""One Heap sample, one Amplitude warehouse export and one generic-source relation, built together on DuckDB and
copied into local Snowflake and BigQuery emulators, built there too; the Heap sample also goes to the Redshift
stand-in (PostgreSQL), shaped as Heap Connect lands it there, and is built there.

Session-scoped: each emulator starts once and each warehouse is built once; every test reads the builds.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redshift_connector
import snowflake.connector

from support.custom_messages import write_custom_messages
from support.dbt_project import DbtProject
from support.emulators import BigQueryEmulator, Fakesnow, RedshiftStandIn
from support.source_copy import (
    AMPLITUDE_ON_BIGQUERY,
    HEAP_ON_BIGQUERY,
    BigQueryLanding,
    copy_to_bigquery,
    copy_to_redshift,
    copy_to_snowflake,
)
from support.warehouse_project import SNOWFLAKE_DATABASE, WarehouseProject

HEAP_SCHEMA = "heap_main_production"
AMPLITUDE_SCHEMA = "amplitude"
AMPLITUDE_PROJECT_ID = 609539
CUSTOM_SCHEMA = "app"
# Every source in one build, as a user migrating from all of them would run it.
SOURCE_VARS = {
    "amplitude_enabled": True,
    "amplitude_project_id": AMPLITUDE_PROJECT_ID,
    "custom_events_relation": f"{CUSTOM_SCHEMA}.messages",
    "custom_persons_relation": f"{CUSTOM_SCHEMA}.people",
    "custom_aliases_relation": f"{CUSTOM_SCHEMA}.links",
}
# Small enough for CI on 2 cores, large enough that every rule of each sample (duplicates, migrations, illegal
# ids, future times, every event table; re-uploads, merged ids, groups, every platform) occurs.
HEAP_EVENTS = 4000
AMPLITUDE_EVENTS = 2000
# Snowflake and Redshift build the heavy models in slices of at most this many rows (about a tenth of
# the history), DuckDB in one: the comparisons then prove slicing gives the one-shot build on each warehouse.
SLICE_ROWS = 700
WAREHOUSE_VARS = {**SOURCE_VARS, "posthog_slice_rows": SLICE_ROWS}
# bqemulator runs each slice's whole query on SQLite (about 45 s per Amplitude slice on a busy machine): fewer,
# larger slices there, still three or more of the Heap events, so a kill at the second leaves more to resume.
BIGQUERY_VARS = {**SOURCE_VARS, "posthog_slice_rows": 2000}
# Heap Connect names its Redshift schema <project>_<environment>. Amplitude's export is not supported there yet.
REDSHIFT_HEAP_SCHEMA = "main_production"
REDSHIFT_VARS = {
    "heap_schema": REDSHIFT_HEAP_SCHEMA,
    "amplitude_enabled": False,
    "posthog_slice_rows": SLICE_ROWS,
}
# Test-only: the Redshift functions and catalog views PostgreSQL lacks, created in the stand-in's database.
REDSHIFT_SHIMS = Path(__file__).with_name("emulator_sql") / "redshift.sql"


@pytest.fixture(scope="session")
def emulator_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("emulator_logs")


@pytest.fixture(scope="session")
def duckdb_build(tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    """The reference: the samples built on DuckDB; their source schemas are what the emulators get a copy of."""
    project = DbtProject.copy_of_repo(tmp_path_factory.mktemp("duckdb") / "project")
    project.generate_heap(events=HEAP_EVENTS, schema=HEAP_SCHEMA)
    project.run_sample(
        "amplitude", "--events", str(AMPLITUDE_EVENTS), "--project-id", str(AMPLITUDE_PROJECT_ID),
        "--export-zip", str(project.root / "target" / "amplitude_export.zip"),
        "--duckdb-path", str(project.duckdb_path), "--warehouse-schema", AMPLITUDE_SCHEMA,
    )  # fmt: skip
    # person updates in `properties`: BigQuery allows no column named `$set`
    write_custom_messages(project, HEAP_SCHEMA, CUSTOM_SCHEMA, persons_column="properties")
    project.dbt("build", vars=SOURCE_VARS)
    return project


@pytest.fixture(scope="session")
def fakesnow(emulator_logs: Path) -> Iterator[Fakesnow]:
    server = Fakesnow.create(emulator_logs)
    with server.emulator.running():
        yield server


@pytest.fixture(scope="session")
def bigquery_emulator(emulator_logs: Path) -> Iterator[BigQueryEmulator]:
    server = BigQueryEmulator.create(emulator_logs)
    with server.emulator.running():
        yield server


@pytest.fixture(scope="session")
def redshift_stand_in(emulator_logs: Path) -> Iterator[RedshiftStandIn]:
    server = RedshiftStandIn.create(emulator_logs, init_sql=REDSHIFT_SHIMS)
    with server.running():
        yield server


@pytest.fixture(scope="session")
def snowflake_build(
    tmp_path_factory: pytest.TempPathFactory, duckdb_build: DbtProject, fakesnow: Fakesnow
) -> WarehouseProject:
    project = WarehouseProject.for_emulators(
        tmp_path_factory.mktemp("snowflake") / "project", fakesnow=fakesnow
    )
    with snowflake.connector.connect(**fakesnow.connect_arguments()) as connection:
        for schema in (HEAP_SCHEMA, AMPLITUDE_SCHEMA, CUSTOM_SCHEMA):
            copy_to_snowflake(
                connection.cursor(), duckdb_build.duckdb_path, schema, SNOWFLAKE_DATABASE, schema
            )
    project.dbt("build", "--target", "snowflake", vars=WAREHOUSE_VARS)
    return project


@pytest.fixture(scope="session")
def bigquery_build(
    tmp_path_factory: pytest.TempPathFactory,
    duckdb_build: DbtProject,
    bigquery_emulator: BigQueryEmulator,
) -> WarehouseProject:
    project = WarehouseProject.for_emulators(
        tmp_path_factory.mktemp("bigquery") / "project", bigquery=bigquery_emulator
    )
    client = bigquery_emulator.client()
    try:
        for schema, landing in (
            (HEAP_SCHEMA, HEAP_ON_BIGQUERY),
            (AMPLITUDE_SCHEMA, AMPLITUDE_ON_BIGQUERY),
            (CUSTOM_SCHEMA, BigQueryLanding()),
        ):
            copy_to_bigquery(client, duckdb_build.duckdb_path, schema, schema, landing)
    finally:
        client.close()
    project.dbt("build", "--target", "bigquery", vars=BIGQUERY_VARS)
    return project


@pytest.fixture(scope="session")
def redshift_build(
    tmp_path_factory: pytest.TempPathFactory,
    duckdb_build: DbtProject,
    redshift_stand_in: RedshiftStandIn,
) -> WarehouseProject:
    project = WarehouseProject.for_emulators(
        tmp_path_factory.mktemp("redshift") / "project", redshift=redshift_stand_in
    )
    connection = redshift_connector.connect(**redshift_stand_in.connect_arguments())
    try:
        copy_to_redshift(
            connection.cursor(), duckdb_build.duckdb_path, HEAP_SCHEMA, REDSHIFT_HEAP_SCHEMA
        )
        connection.commit()
    finally:
        connection.close()
    project.dbt("build", "--target", "redshift", vars=REDSHIFT_VARS)
    return project
