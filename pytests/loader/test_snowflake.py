"""The Snowflake connector end to end, against a fakesnow server (Snowflake's wire protocol over
DuckDB). Every network step has a timeout: a wedged fake server must fail the test, not hang it."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from loader.conftest import MODELS, PROJECT_NAME, TOKEN, rows_for
from support.fake_posthog import CaptureServer

snowflake_connector = pytest.importorskip("snowflake.connector")
pytest.importorskip("fakesnow")

DATABASE, SCHEMA = "posthog_db", "analytics"
STEP_TIMEOUT = 120


def _free_port() -> int:
    with contextlib.closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def fakesnow_port() -> Iterator[int]:
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "fakesnow", "-s", "-p", str(port), "--host", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if time.monotonic() > deadline or server.poll() is not None:
                pytest.fail("fakesnow server did not start")
            time.sleep(0.1)
        yield port
    finally:
        server.terminate()
        server.wait(10)


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
