"""Fixtures: a capture server on 127.0.0.1 and a tiny dbt-shaped project over a DuckDB file.

The project mimics what `dbt build` leaves behind (dbt_project.yml, profiles.yml with env_var,
target/manifest.json, views in a custom schema) without depending on the real dbt models.
"""

from __future__ import annotations

import datetime as dt
import uuid as uuid_module
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pytest
from click.testing import Result
from typer.testing import CliRunner

from posthog_loader.cli import app
from support.fake_posthog import CaptureServer

TOKEN = "phc_test_secret_5f4dcc3b5aa765d61d8327deb882cf99"
PERSONAL_KEY = "phx_personal_secret_8b1a9953c4611296a827abf8c47804d7"
PROJECT_ID = "4242"
PROJECT_NAME = "posthog_migrate_fixture"
DATABASE = "warehouse"
SCHEMA = "analytics"
MODELS = ("aliases", "persons", "events")
OLD = dt.datetime(2024, 3, 1, 9, 0, 0)
_NAMESPACE = uuid_module.UUID("6f1b7c1e-2a0d-4b8e-9a53-3f0c1d2e4b5a")


def make_uuid(model: str, index: int) -> str:
    return str(uuid_module.uuid5(_NAMESPACE, f"{model}:{index}"))


def payload_for(
    uuid: str, event: str, distinct_id: str, timestamp: dt.datetime, **properties: Any
) -> str:
    return orjson.dumps(
        {
            "uuid": uuid,
            "event": event,
            "distinct_id": distinct_id,
            "timestamp": timestamp.isoformat(timespec="microseconds") + "+00:00",
            "properties": {"$geoip_disable": True, **properties},
        }
    ).decode()


@dataclass
class Row:
    uuid: str | None
    event: str | None
    distinct_id: str | None
    timestamp: dt.datetime | None
    payload: str | None

    @classmethod
    def valid(cls, model: str, index: int, timestamp: dt.datetime, event: str | None = None) -> Row:
        uuid = make_uuid(model, index)
        name = event or {"aliases": "$create_alias", "persons": "$set"}.get(
            model, f"event_{index % 3}"
        )
        distinct_id = f"user_{index % 17}"
        return cls(
            uuid,
            name,
            distinct_id,
            timestamp,
            payload_for(uuid, name, distinct_id, timestamp, n=index),
        )


def rows_for(
    model: str, count: int, start: dt.datetime = OLD, step: dt.timedelta = dt.timedelta(minutes=7)
) -> list[Row]:
    return [Row.valid(model, index, start + index * step) for index in range(count)]


@dataclass
class Project:
    root: Path
    server: CaptureServer
    rows: dict[str, list[Row]] = field(default_factory=dict)

    @property
    def db_path(self) -> Path:
        return self.root / f"{DATABASE}.duckdb"

    def env(self) -> dict[str, str]:
        return {
            "FIXTURE_DUCKDB_PATH": str(self.db_path),
            "POSTHOG_API_KEY": TOKEN,
            "POSTHOG_HOST": self.server.url,
            "DBT_PROFILES_DIR": None,  # type: ignore[dict-item]  # CliRunner: unset
            "DBT_TARGET": None,  # type: ignore[dict-item]
        }

    def set_rows(self, model: str, rows: Sequence[Row]) -> None:
        self.rows[model] = list(rows)
        table = pa.Table.from_pylist(
            [vars(row) for row in rows],
            schema=pa.schema(
                [
                    ("uuid", pa.string()),
                    ("event", pa.string()),
                    ("distinct_id", pa.string()),
                    ("timestamp", pa.timestamp("us")),
                    ("payload", pa.string()),
                ]
            ),
        )
        with duckdb.connect(str(self.db_path)) as con:
            con.register("new_rows", table)
            con.execute(f"create or replace table staging.src_{model} as select * from new_rows")

    def add_rows(self, model: str, rows: Sequence[Row]) -> None:
        self.set_rows(model, [*self.rows.get(model, []), *rows])

    def uuids(self, *models: str) -> list[str | None]:
        return [row.uuid for model in models or MODELS for row in self.rows[model]]

    def query(self, sql: str) -> list[tuple]:
        with duckdb.connect(str(self.db_path), read_only=True) as con:
            return con.execute(sql).fetchall()

    def run(self, *args: str, env: dict[str, str | None] | None = None) -> Result:
        arguments = [
            "--project-dir",
            str(self.root),
            "--batch-events",
            "50",
            "--retry-base-delay",
            "0.01",
            "--retry-max-delay",
            "0.05",
            *args,
        ]
        return CliRunner().invoke(
            app, arguments, env={**self.env(), **(env or {})}, catch_exceptions=False
        )

    def export(self, *args: str, env: dict[str, str | None] | None = None) -> Result:
        """`load-posthog export` of this project (small parts, so a few rows make several)."""
        return CliRunner().invoke(
            app,
            ["export", "--project-dir", str(self.root), "--part-events", "40", *args],
            env={**self.env(), **(env or {})},
            catch_exceptions=False,
        )

    def verify(self, *args: str, env: dict[str, str | None] | None = None) -> Result:
        """`load-posthog verify` against the capture server's query API."""
        settings = {
            "POSTHOG_PERSONAL_API_KEY": PERSONAL_KEY,
            "POSTHOG_PROJECT_ID": PROJECT_ID,
            "POSTHOG_API_HOST": self.server.url,
        }
        return CliRunner().invoke(
            app,
            ["verify", "--project-dir", str(self.root), *args],
            env={**self.env(), **settings, **(env or {})},
            catch_exceptions=False,
        )


def write_project(root: Path) -> None:
    (root / "dbt_project.yml").write_text(
        f"name: {PROJECT_NAME}\nprofile: fixture_profile\nversion: '1.0'\n"
    )
    (root / "profiles.yml").write_text(
        "fixture_profile:\n"
        "  target: dev\n"
        "  outputs:\n"
        "    dev:\n"
        "      type: duckdb\n"
        "      path: \"{{ env_var('FIXTURE_DUCKDB_PATH') }}\"\n"
        "      schema: main\n"
        "      threads: \"{{ env_var('FIXTURE_THREADS', '2') | as_number }}\"\n"
    )
    nodes = {}
    for model in MODELS:
        name = f"posthog_{model}"
        nodes[f"model.{PROJECT_NAME}.{name}"] = {
            "database": DATABASE,
            "schema": SCHEMA,
            "name": name,
            "alias": name,
            "relation_name": f'"{DATABASE}"."{SCHEMA}"."{name}"',
        }
    (root / "target").mkdir()
    (root / "target" / "manifest.json").write_bytes(
        orjson.dumps({"metadata": {"adapter_type": "duckdb"}, "nodes": nodes})
    )


@pytest.fixture
def capture() -> Iterator[CaptureServer]:
    with CaptureServer(
        [TOKEN], keep_bodies=True, personal_api_keys=[PERSONAL_KEY], project_id=PROJECT_ID
    ) as server:
        yield server


@pytest.fixture
def empty_project(tmp_path: Path, capture: CaptureServer) -> Project:
    """Project files and views, with no rows yet."""
    write_project(tmp_path)
    project = Project(tmp_path, capture)
    with duckdb.connect(str(project.db_path)) as con:
        con.execute(f"create schema staging; create schema {SCHEMA}")
        for model in MODELS:
            con.execute(
                f"create table staging.src_{model} (uuid varchar, event varchar,"
                " distinct_id varchar, timestamp timestamp, payload varchar)"
            )
            # Views over staging tables, like the contract views over the sources, with the
            # same shard_key (try_cast: some tests hold rows whose uuid is not a uuid).
            con.execute(
                f"create view {SCHEMA}.posthog_{model} as select *,"
                " try_cast('0x' || substr(uuid, 29, 8) as bigint) as shard_key"
                f" from staging.src_{model}"
            )
            project.rows[model] = []
    return project


@pytest.fixture
def project(empty_project: Project) -> Project:
    """A small load: 20 aliases, 30 persons, 400 events, all older than 48 hours."""
    empty_project.set_rows("aliases", rows_for("aliases", 20))
    empty_project.set_rows("persons", rows_for("persons", 30))
    empty_project.set_rows("events", rows_for("events", 400))
    return empty_project
