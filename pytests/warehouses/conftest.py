"""One Heap sample, built on DuckDB and copied into local Snowflake and BigQuery emulators, built there too.

Session-scoped: each emulator starts once and each warehouse is built once; every test reads the builds.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import snowflake.connector

from support.dbt_project import DbtProject
from support.emulators import BigQueryEmulator, Fakesnow
from support.heap_copy import copy_heap_to_bigquery, copy_heap_to_snowflake
from support.warehouse_project import SNOWFLAKE_DATABASE, WarehouseProject

HEAP_SCHEMA = "heap_main_production"
# Small enough for CI on 2 cores, large enough that every rule of the sample (duplicates, migrations, illegal
# ids, future times, every event table) occurs.
SAMPLE_EVENTS = 4000


@pytest.fixture(scope="session")
def emulator_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("emulator_logs")


@pytest.fixture(scope="session")
def duckdb_build(tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    """The reference: the sample built on DuckDB; its Heap schema is what the emulators get a copy of."""
    project = DbtProject.copy_of_repo(tmp_path_factory.mktemp("duckdb") / "project")
    project.generate_heap(events=SAMPLE_EVENTS, schema=HEAP_SCHEMA)
    project.dbt("build")
    return project


@pytest.fixture(scope="session")
def fakesnow(emulator_logs: Path) -> Iterator[Fakesnow]:
    server = Fakesnow.create(emulator_logs)
    server.emulator.start()
    try:
        yield server
    finally:
        server.emulator.stop()


@pytest.fixture(scope="session")
def bigquery_emulator(emulator_logs: Path) -> Iterator[BigQueryEmulator]:
    server = BigQueryEmulator.create(emulator_logs)
    server.emulator.start()
    try:
        yield server
    finally:
        server.emulator.stop()


@pytest.fixture(scope="session")
def snowflake_build(
    tmp_path_factory: pytest.TempPathFactory, duckdb_build: DbtProject, fakesnow: Fakesnow
) -> WarehouseProject:
    project = WarehouseProject.for_emulators(
        tmp_path_factory.mktemp("snowflake") / "project", fakesnow=fakesnow
    )
    with snowflake.connector.connect(**fakesnow.connect_arguments()) as connection:
        copy_heap_to_snowflake(
            connection.cursor(), duckdb_build.duckdb_path, SNOWFLAKE_DATABASE, HEAP_SCHEMA
        )
    project.dbt("build", "--target", "snowflake")
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
    copy_heap_to_bigquery(bigquery_emulator.client(), duckdb_build.duckdb_path, HEAP_SCHEMA)
    project.dbt("build", "--target", "bigquery")
    return project
