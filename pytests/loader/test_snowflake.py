"""The Snowflake connector end to end, against a fakesnow server (Snowflake's wire protocol over
DuckDB). Every network step has a timeout: a wedged fake server must fail the test, not hang it."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from loader.conftest import MODELS, PROJECT_NAME, TOKEN, rows_for
from support.emulators import Fakesnow
from support.fake_posthog import CaptureServer

snowflake_connector = pytest.importorskip("snowflake.connector")

DATABASE, SCHEMA = "posthog_db", "analytics"
STEP_TIMEOUT = 120


@pytest.fixture(scope="module")
def fakesnow_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    server = Fakesnow.create(tmp_path_factory.mktemp("fakesnow_logs"))
    with server.emulator.running():
        yield server.port


def _connect(port: int, **extra: object):  # type: ignore[no-untyped-def]
    return snowflake_connector.connect(
        account="fakesnow",
        user="fake",
        password="snow",
        host="127.0.0.1",
        port=port,
        protocol="http",
        login_timeout=10,
        network_timeout=30,
        **extra,
    )


@pytest.fixture
def snowflake_project(tmp_path: Path, fakesnow_port: int) -> Path:
    """Contract views in fakesnow, and the dbt files the loader reads."""
    rows = {model: rows_for(model, count) for model, count in zip(MODELS, (5, 7, 180), strict=True)}
    # Server-side binding: fakesnow reads "$create_alias" in a client-side literal as a variable.
    with _connect(fakesnow_port, paramstyle="qmark") as connection, connection.cursor() as cursor:
        cursor.execute(f"create database if not exists {DATABASE}")
        cursor.execute(f"create schema if not exists {DATABASE}.{SCHEMA}")
        cursor.execute(f"use schema {DATABASE}.{SCHEMA}")
        for model, model_rows in rows.items():
            cursor.execute(
                f"create or replace table src_{model} (uuid varchar, event varchar,"
                " distinct_id varchar, timestamp timestamp_ntz, payload varchar)"
            )
            cursor.executemany(
                f"insert into src_{model} values (?, ?, ?, ?, ?)",
                [(r.uuid, r.event, r.distinct_id, r.timestamp, r.payload) for r in model_rows],
            )
            cursor.execute(f"create or replace view posthog_{model} as select * from src_{model}")
    (tmp_path / "dbt_project.yml").write_text(f"name: {PROJECT_NAME}\nprofile: sf\n")
    (tmp_path / "profiles.yml").write_text(
        "sf:\n  target: fake\n  outputs:\n    fake:\n      type: snowflake\n"
        "      account: fakesnow\n      user: fake\n      password: \"{{ env_var('SF_PASSWORD') }}\"\n"
        f"      database: {DATABASE}\n      schema: {SCHEMA}\n      warehouse: wh\n"
        f"      host: 127.0.0.1\n      port: {fakesnow_port}\n      protocol: http\n"
        "      connect_timeout: 10\n"
    )
    nodes = {
        f"model.{PROJECT_NAME}.posthog_{model}": {
            "database": DATABASE,
            "schema": SCHEMA,
            "alias": f"posthog_{model}",
            "relation_name": f"{DATABASE}.{SCHEMA}.posthog_{model}",
        }
        for model in MODELS
    }
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "manifest.json").write_bytes(
        orjson.dumps({"metadata": {"adapter_type": "snowflake"}, "nodes": nodes})
    )
    (tmp_path / "expected.json").write_bytes(
        orjson.dumps([row.uuid for model in MODELS for row in rows[model]])
    )
    return tmp_path


def _load(project: Path, capture: CaptureServer) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "POSTHOG_API_KEY": TOKEN,
        "POSTHOG_HOST": capture.url,
        "SF_PASSWORD": "snow",
    }
    env.pop("DBT_PROFILES_DIR", None)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "posthog_loader",
            "--project-dir",
            str(project),
            "--batch-events",
            "50",
            "--window-rows",
            "60",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT,
        check=False,
    )


@pytest.mark.slow
def test_snowflake_load_delivers_everything_and_checkpoints_in_snowflake(
    snowflake_project: Path, capture: CaptureServer, fakesnow_port: int
):
    first = _load(snowflake_project, capture)

    assert first.returncode == 0, first.stdout + first.stderr
    expected = orjson.loads((snowflake_project / "expected.json").read_bytes())
    assert sorted(capture.uuids()) == sorted(expected)
    with _connect(fakesnow_port) as connection, connection.cursor() as cursor:
        cursor.execute(
            f"select model, rows_delivered from {DATABASE}.{SCHEMA}.posthog_load_state order by model"
        )
        assert cursor.fetchall() == [("aliases", 5), ("events", 180), ("persons", 7)]

    capture.reset()
    again = _load(snowflake_project, capture)

    assert again.returncode == 0, again.stdout + again.stderr
    assert capture.requests == []


@pytest.mark.slow
def test_snowflake_leases_stop_a_second_run_until_the_first_ends_or_expires(
    snowflake_project: Path, capture: CaptureServer, fakesnow_port: int
):
    assert _load(snowflake_project, capture).returncode == 0  # creates the state tables
    leases = f"{DATABASE}.{SCHEMA}.posthog_load_lease"
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with (
        _connect(fakesnow_port, paramstyle="qmark") as connection,
        connection.cursor() as cursor,
    ):
        cursor.execute(f"select count(*) from {leases}")
        assert cursor.fetchone() == (0,)  # the finished run gave its leases back
        cursor.execute(
            f"insert into {leases} values ('events', 'all', 'nightly-1', 'airflow-worker-3', 812,"
            " ?, ?)",
            [now, now + dt.timedelta(minutes=10)],
        )
    capture.reset()

    blocked = _load(snowflake_project, capture)

    assert blocked.returncode == 8, blocked.stdout + blocked.stderr
    assert "host airflow-worker-3, pid 812" in blocked.stderr
    assert capture.requests == []

    with (
        _connect(fakesnow_port, paramstyle="qmark") as connection,
        connection.cursor() as cursor,
    ):
        # The holder crashed: its lease runs out.
        cursor.execute(f"update {leases} set expires_at = ?", [now - dt.timedelta(minutes=1)])
    after_expiry = _load(snowflake_project, capture)

    assert after_expiry.returncode == 0, after_expiry.stdout + after_expiry.stderr
