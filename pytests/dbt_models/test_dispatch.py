"""A warehouse the project was not written for gets one message, before anything is built, naming the
warehouses it runs on; dbt still parses the project there (every dispatched macro has a default__)."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.dbt_project import DbtProject

pytestmark = pytest.mark.slow


def test_an_unsupported_warehouse_stops_the_run_once_with_our_message(tmp_path: Path) -> None:
    project = DbtProject.copy_of_repo(tmp_path / "project")
    # DuckDB stands in for a warehouse outside the list: every duckdb__ macro is still there, the list is not
    adapters = project.root / "macros/cross_db/adapters.sql"
    text = adapters.read_text()
    assert "['duckdb', 'snowflake', 'bigquery', 'redshift']" in text
    adapters.write_text(
        text.replace(
            "['duckdb', 'snowflake', 'bigquery', 'redshift']",
            "['snowflake', 'bigquery', 'redshift']",
        )
    )

    result = project.dbt("build", check=False)

    message = (
        "posthog_migrate runs on snowflake, bigquery, redshift; target 'duckdb' is a duckdb target, "
        "which it does not support."
    )
    assert result.returncode != 0
    assert result.stdout.count(message) == 1, result.stdout[-3000:]
    assert "OK created" not in result.stdout


def test_every_dispatched_macro_falls_back_to_the_same_message(tmp_path: Path) -> None:
    project = DbtProject.copy_of_repo(tmp_path / "project")
    json_macros = project.root / "macros/cross_db/json.sql"
    implementation = "{% macro duckdb__json_quote(expr) -%}"
    assert implementation in json_macros.read_text()
    json_macros.write_text(
        json_macros.read_text().replace(implementation, "{% macro other__json_quote(expr) -%}")
    )

    result = project.dbt("compile", "--select", "posthog_aliases", check=False)

    assert result.returncode != 0
    assert "(json_quote has no duckdb implementation)" in result.stdout
