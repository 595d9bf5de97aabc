"""Golden outputs: small committed inputs for every source, built by the real `dbt build`, and every row of the
contract views compared byte for byte with the committed `expected/*.tsv` (`<uuid>\\t<payload>` per line).

uuids are PostHog's dedup key: a change that moves a uuid or a byte of a payload between versions fails here.
When the change is intended, regenerate with `make golden` and say so in the commit message (README.md beside
this file).
"""

from __future__ import annotations

import difflib
import gzip
import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from support.dbt_project import DbtProject

pytestmark = pytest.mark.slow

HERE = Path(__file__).parent
INPUTS = HERE / "inputs"
EXPECTED = HERE / "expected"
UPDATE = os.environ.get("POSTHOG_MIGRATE_UPDATE_GOLDEN") == "1"
HEAP_SCHEMA = "heap_main_production"
CUSTOM_SCHEMA = "app"
AMPLITUDE_PROJECT_ID = 609539
# Each contract view's rows, in an order that keeps a changed row on its own line of the diff.
CONTRACT_ORDER = {
    "posthog_aliases": "source_name, distinct_id, alias, uuid",
    "posthog_persons": "source_name, source_user_id, uuid",
    "posthog_events": "source_name, source_table, source_row_id, uuid",
}
# A zone far from UTC, with a half-hour offset: the output must not depend on the machine's time zone.
OTHER_TIME_ZONE = "Asia/Kolkata"


def load_tables(project: DbtProject, folder: str, schema: str) -> None:
    """A schema from `inputs/<folder>`: its DDL, then one CSV per table (`\\N` is null)."""
    statements = [f"create schema {schema}", f"use {schema}"]
    statements.append((INPUTS / folder / "schema.sql").read_text())
    for csv in sorted((INPUTS / folder).glob("*.csv")):
        statements.append(f"copy \"{csv.stem}\" from '{csv}' (header true, nullstr '\\N')")
    project.execute(";\n".join(statements))


def write_amplitude_export(project: DbtProject) -> Path:
    """`inputs/amplitude/export.jsonl` as the Export API lays it out: a folder of gzipped JSON-lines files."""
    folder = project.root / "exports" / "amplitude"
    target = folder / str(AMPLITUDE_PROJECT_ID) / f"{AMPLITUDE_PROJECT_ID}_2026-06-01_0#0.json.gz"
    target.parent.mkdir(parents=True)
    with (
        (INPUTS / "amplitude" / "export.jsonl").open("rb") as lines,
        gzip.open(target, "wb") as sink,
    ):
        shutil.copyfileobj(lines, sink)
    return folder


def contract_lines(project: DbtProject) -> dict[str, str]:
    """Each contract view as the text of its expected file."""
    return {
        model: "".join(
            f"{uuid}\t{payload}\n"
            for uuid, payload in project.query(
                f"select uuid, payload from {model} order by {order}"
            )
        )
        for model, order in CONTRACT_ORDER.items()
    }


def mismatches(actual: dict[str, str]) -> list[str]:
    """A unified diff (expected → actual) per contract view that differs from its committed file."""
    found = []
    for model, text in actual.items():
        path = EXPECTED / f"{model}.tsv"
        expected = path.read_text() if path.exists() else ""
        if text != expected:
            diff = difflib.unified_diff(
                expected.splitlines(keepends=True),
                text.splitlines(keepends=True),
                fromfile=f"expected/{model}.tsv",
                tofile=f"{model} (this build)",
                n=0,
            )
            found.append("".join(list(diff)[:40]))
    return found


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[DbtProject, dict]:
    project = DbtProject.copy_of_repo(tmp_path_factory.mktemp("golden") / "project")
    load_tables(project, "heap", HEAP_SCHEMA)
    load_tables(project, "custom", CUSTOM_SCHEMA)
    build_vars = {
        "heap_enabled": True,
        "amplitude_enabled": True,
        "amplitude_export_path": str(write_amplitude_export(project)),
        "custom_events_relation": f"{CUSTOM_SCHEMA}.messages",
        "custom_persons_relation": f"{CUSTOM_SCHEMA}.people",
        "custom_aliases_relation": f"{CUSTOM_SCHEMA}.links",
    }
    return project, build_vars


def test_contract_views_match_the_golden_files_and_a_full_rebuild_gives_the_same_bytes(
    project: tuple[DbtProject, dict],
) -> None:
    dbt_project, build_vars = project
    dbt_project.dbt("build", vars=build_vars)
    first = contract_lines(dbt_project)
    assert all(first.values()), "a contract view is empty: the golden inputs no longer reach it"

    if UPDATE:
        EXPECTED.mkdir(exist_ok=True)
        for model, text in first.items():
            (EXPECTED / f"{model}.tsv").write_text(text)
    problems = mismatches(first)
    assert not problems, (
        "uuids or payloads moved. If the change is intended, run `make golden` and say so in the commit "
        "message:\n" + "\n".join(problems)
    )

    # Every model rebuilt from scratch (tables too, not only views), in another time zone: the same bytes.
    elsewhere = replace(dbt_project, env={**dbt_project.env, "TZ": OTHER_TIME_ZONE})
    elsewhere.dbt("build", "--full-refresh", vars=build_vars)
    assert contract_lines(dbt_project) == first
