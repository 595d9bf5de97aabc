"""Configuration errors: each exits with the documented code and names what to fix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from loader.conftest import Project
from posthog_loader.dbt import render, resolve_profiles_dir
from posthog_loader.errors import ConfigError


def test_missing_env_var_names_the_variable(project: Project):
    result = project.run(env={"FIXTURE_DUCKDB_PATH": None})

    assert result.exit_code == 2
    assert "FIXTURE_DUCKDB_PATH" in result.stderr
    assert "env_var('FIXTURE_DUCKDB_PATH'" in result.stderr


def test_unknown_target_names_it_and_lists_the_others(project: Project):
    result = project.run("--target", "prod")

    assert result.exit_code == 2
    assert "no target 'prod'" in result.stderr
    assert "Targets: dev" in result.stderr


def test_target_from_the_environment_like_dbt(project: Project):
    result = project.run(env={"DBT_TARGET": "staging"})

    assert result.exit_code == 2
    assert "no target 'staging'" in result.stderr


def test_missing_profile_names_it(project: Project):
    (project.root / "dbt_project.yml").write_text("name: x\nprofile: elsewhere\n")

    result = project.run()

    assert result.exit_code == 2
    assert "no profile 'elsewhere'" in result.stderr


def test_missing_project_file_points_at_project_dir(project: Project, tmp_path_factory):
    result = project.run("--project-dir", str(tmp_path_factory.mktemp("empty")))

    assert result.exit_code == 2
    assert "No dbt_project.yml" in result.stderr
    assert "--project-dir" in result.stderr


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (None, "POSTHOG_API_KEY is not set"),
        ("   ", "POSTHOG_API_KEY is empty"),
        ("phx_personal_secret_123", "personal API key (phx_...)"),
    ],
)
def test_bad_tokens_are_refused_before_anything_runs(project: Project, key, message):
    result = project.run(env={"POSTHOG_API_KEY": key})

    assert result.exit_code == 2
    assert message in result.stderr
    assert "phx_personal_secret_123" not in result.output + result.stderr
    assert project.server.requests == []


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--models", "events,users"], "--models"),
        (["--host", "us.i.posthog.com"], "--host"),
        (["--concurrency", "0"], "--concurrency"),
        (["--batch-bytes", str(64 * 1024 * 1024)], "--batch-bytes"),
        (["--recent", "later"], "--recent"),
        (["--state-file", "s.json", "--state-schema", "x"], "--state-file"),
        (["--dry-run-dir", "d"], "--dry-run-dir"),
    ],
)
def test_bad_flags_exit_2_naming_the_flag(project: Project, args, named):
    result = project.run(*args)

    assert result.exit_code == 2
    assert named in result.stderr


def test_missing_manifest_says_to_run_dbt_build(project: Project):
    (project.root / "target" / "manifest.json").unlink()
    report = project.root / "report.json"

    result = project.run("--report", str(report))

    assert result.exit_code == 5
    assert "dbt build --target dev" in result.stderr
    assert orjson.loads(report.read_bytes())["exit_code"] == 5


def test_manifest_without_the_model_says_to_run_dbt_build(project: Project):
    path = project.root / "target" / "manifest.json"
    manifest = orjson.loads(path.read_bytes())
    del manifest["nodes"]["model.posthog_migrate_fixture.posthog_persons"]
    path.write_bytes(orjson.dumps(manifest))

    result = project.run()

    assert result.exit_code == 5
    assert "posthog_persons" in result.stderr
    assert "dbt build" in result.stderr


def test_manifest_from_another_adapter_is_refused(project: Project):
    path = project.root / "target" / "manifest.json"
    manifest = orjson.loads(path.read_bytes())
    manifest["metadata"]["adapter_type"] = "snowflake"
    path.write_bytes(orjson.dumps(manifest))

    result = project.run()

    assert result.exit_code == 5
    assert "built for a snowflake target" in result.stderr


def test_missing_view_exits_5_naming_the_relation(project: Project, capture):
    import duckdb

    with duckdb.connect(str(project.db_path)) as con:
        con.execute("drop view analytics.posthog_persons")

    report = project.root / "report.json"

    result = project.run("--report", str(report))

    assert result.exit_code == 5
    assert "posthog_persons" in result.stderr
    assert "dbt build --target dev" in result.stderr
    # aliases went out, persons failed, events never started: order is kept even on failure.
    assert {event.event for event in capture.events} == {"$create_alias"}
    statuses = [model["status"] for model in orjson.loads(report.read_bytes())["models"]]
    assert statuses == ["complete", "failed", "not_started"]


def test_missing_database_file_exits_5(project: Project, tmp_path: Path):
    result = project.run(env={"FIXTURE_DUCKDB_PATH": str(tmp_path / "nope.duckdb")})

    assert result.exit_code == 5
    assert "nope.duckdb" in result.stderr
    assert "does not exist" in result.stderr


def test_a_locked_database_file_exits_5_with_advice(project: Project):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]);"
            " print('locked', flush=True); time.sleep(60)",
            str(project.db_path),
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"locked\n"
        result = project.run()
    finally:
        holder.kill()
        holder.wait()

    assert result.exit_code == 5
    assert "one writing process" in result.stderr


def test_profiles_dir_precedence_matches_dbt(tmp_path: Path, monkeypatch):
    project_dir = tmp_path / "project"
    project_dir.mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert resolve_profiles_dir(None, project_dir) == tmp_path / "home" / ".dbt"
    (project_dir / "profiles.yml").write_text("{}")
    assert resolve_profiles_dir(None, project_dir) == project_dir
    assert resolve_profiles_dir(tmp_path / "explicit", project_dir) == tmp_path / "explicit"


def test_profiles_dir_flag_and_env_are_used(project: Project, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("profiles")
    (elsewhere / "profiles.yml").write_text("other_profile: {}\n")

    from_flag = project.run("--profiles-dir", str(elsewhere))
    from_env = project.run(env={"DBT_PROFILES_DIR": str(elsewhere)})

    for result in (from_flag, from_env):
        assert result.exit_code == 2
        assert f"{elsewhere}/profiles.yml has no profile 'fixture_profile'" in result.stderr


def test_render_supports_env_var_defaults_and_dbt_filters(monkeypatch):
    monkeypatch.setenv("PORT", "5432")
    monkeypatch.setenv("FLAG", "True")
    monkeypatch.delenv("UNSET", raising=False)
    tree = {
        "port": "{{ env_var('PORT') | as_number }}",
        "port_text": "{{ env_var('PORT') }}",
        "flag": "{{ env_var('FLAG') | as_bool }}",
        "native": "{{ '[1, 2]' | as_native }}",
        "text": "{{ env_var('PORT') | as_text }}",
        "fallback": "{{ env_var('UNSET', 'main') }}",
        "mixed": "db_{{ env_var('PORT') }}",
        "plain": 7,
    }

    assert render(tree, "profiles.yml") == {
        "port": 5432,
        "port_text": "5432",
        "flag": True,
        "native": [1, 2],
        "text": "5432",
        "fallback": "main",
        "mixed": "db_5432",
        "plain": 7,
    }
    with pytest.raises(ConfigError, match="UNSET"):
        render({"path": "{{ env_var('UNSET') }}"}, "profiles.yml: p.outputs.dev")
