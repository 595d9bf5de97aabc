"""Cross-warehouse macros have no raising `default__` copies: a macro missing for the target's adapter stops
`dbt parse` with dbt's own dispatch error, which names the macro to add.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from support.dbt_project import DbtProject

pytestmark = pytest.mark.slow


def test_a_macro_missing_for_the_adapter_names_the_macro_to_add(tmp_path: Path) -> None:
    project = DbtProject.copy_of_repo(tmp_path / "project")
    json_macros = project.root / "macros/cross_db/json.sql"
    implementation = "{% macro duckdb__json_quote(expr) -%}"
    assert implementation in json_macros.read_text()
    json_macros.write_text(
        json_macros.read_text().replace(implementation, "{% macro other__json_quote(expr) -%}")
    )

    result = project.dbt("parse", check=False)

    assert result.returncode != 0
    assert "No macro named 'json_quote' found within namespace: 'posthog_migrate'" in result.stdout
    assert "'posthog_migrate.duckdb__json_quote'" in result.stdout
