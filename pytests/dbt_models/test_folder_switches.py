"""Sources and the contract's materialization are switched per folder in dbt_project.yml, which dbt 1.11 renders
with --vars only: a switch set in the vars: block instead stops the run before anything is built, naming the fix.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from support.dbt_project import REPO_ROOT, DbtProject

pytestmark = pytest.mark.slow


@pytest.fixture
def project(tmp_path: Path) -> DbtProject:
    return DbtProject.copy_of_repo(tmp_path / "project")


def set_in_vars_block(project: DbtProject, old: str, new: str) -> None:
    path = project.root / "dbt_project.yml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_a_source_switched_off_in_the_vars_block_stops_the_run(project: DbtProject) -> None:
    set_in_vars_block(project, "  heap_enabled: true", "  heap_enabled: false")

    amplitude_only = {"amplitude_enabled": True, "amplitude_export_path": "export.zip"}
    result = project.dbt("build", vars=amplitude_only, check=False)

    assert result.returncode != 0
    assert "heap_enabled is false in the vars: block of dbt_project.yml" in result.stdout
    assert "--vars '{heap_enabled: false}'" in result.stdout
    assert "OK created" not in result.stdout


def test_the_contract_materialization_set_in_the_vars_block_stops_the_run(
    project: DbtProject,
) -> None:
    set_in_vars_block(
        project,
        "posthog_contract_materialization: view",
        "posthog_contract_materialization: table",
    )

    result = project.dbt("run", "--select", "posthog_events", check=False)

    assert result.returncode != 0
    assert "--vars '{posthog_contract_materialization: \"table\"}'" in result.stdout


def test_the_same_switches_on_the_command_line_are_obeyed(project: DbtProject) -> None:
    project.generate_heap(events=300)
    project.dbt(
        "build",
        vars={"heap_enabled": True, "posthog_contract_materialization": "table"},
    )
    (kind,) = project.query(
        "select table_type from information_schema.tables where table_name = 'posthog_events'"
    )[0]
    assert kind == "BASE TABLE"


def test_no_model_switches_itself() -> None:
    """`enabled` and `materialized` live in dbt_project.yml (per folder, exceptions by name) or a model's yml, so
    a reader finds every switch in one place: a model file that sets one escapes the folder switches."""
    setting = re.compile(r"\b(enabled|materialized)\s*=")
    offenders = [
        str(path.relative_to(REPO_ROOT))
        for path in sorted((REPO_ROOT / "models").rglob("*"))
        if path.suffix in (".sql", ".py") and setting.search(path.read_text())
    ]
    assert offenders == []


def test_every_model_ref_is_a_literal_a_reader_can_grep() -> None:
    """`ref('int_heap_events__mapped')`, never a name built from strings: grep finds every reader of a model."""
    built_name = re.compile(r"\bref\((?!'[a-z0-9_]+'\))")
    offenders = [
        f"{path.relative_to(REPO_ROOT)}: {line.strip()}"
        for path in sorted((REPO_ROOT / "models").rglob("*.sql"))
        for line in path.read_text().splitlines()
        if built_name.search(line)
    ]
    assert offenders == []
