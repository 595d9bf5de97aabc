"""The loader's Redshift connector end to end, against the PostgreSQL stand-in through redshift_connector:
contract views in Redshift, the checkpoint, quarantine and record tables kept beside them, late rows found
by the record, and `verify` reading the same views."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import orjson
import pyarrow as pa
import pytest

from loader.conftest import MODELS, PERSONAL_KEY, PROJECT_ID, PROJECT_NAME, TOKEN, Row, rows_for
from posthog_loader.dbt import Target
from posthog_loader.errors import NotBuiltError, WarehouseError
from posthog_loader.warehouse.redshift import RedshiftWarehouse
from support.emulators import RedshiftStandIn
from support.fake_posthog import CaptureServer
from support.source_copy import copy_to_redshift
from support.warehouse_project import REDSHIFT_OVERSIZE_SCHEMA, WarehouseProject
from warehouses.conftest import HEAP_SCHEMA, REDSHIFT_VARS
from warehouses.contract_rows import RedshiftClient

pytestmark = pytest.mark.warehouses

SCHEMA = "analytics"
STEP_TIMEOUT = 180


def _replace_rows(stand_in: RedshiftStandIn, model: str, rows: Sequence[Row]) -> None:
    with contextlib.closing(stand_in.connect()) as connection:
        cursor = connection.cursor()
        cursor.execute(f"create schema if not exists {SCHEMA}")
        cursor.execute(f"drop table if exists {SCHEMA}.src_{model} cascade")
        cursor.execute(
            f"create table {SCHEMA}.src_{model} (uuid varchar(36), event varchar(65535),"
            " distinct_id varchar(65535), timestamp timestamp, payload varchar(65535))"
        )
        cursor.executemany(
            f"insert into {SCHEMA}.src_{model} values (%s, %s, %s, %s, %s)",
            [(row.uuid, row.event, row.distinct_id, row.timestamp, row.payload) for row in rows],
        )
        cursor.execute(
            f"create view {SCHEMA}.posthog_{model} as select * from {SCHEMA}.src_{model}"
        )
        connection.commit()


@pytest.fixture
def redshift_project(tmp_path: Path, redshift_stand_in: RedshiftStandIn) -> Iterator[Path]:
    """Contract views in the stand-in, and the dbt files the loader reads (profile as README shows)."""
    (tmp_path / "dbt_project.yml").write_text(f"name: {PROJECT_NAME}\nprofile: rs\n")
    (tmp_path / "profiles.yml").write_text(
        "rs:\n  target: redshift\n  outputs:\n    redshift:\n      type: redshift\n"
        f"      host: 127.0.0.1\n      port: {redshift_stand_in.port}\n"
        f"      user: {redshift_stand_in.user}\n"
        "      password: \"{{ env_var('REDSHIFT_PASSWORD') }}\"\n"
        f"      dbname: {redshift_stand_in.database}\n      schema: {SCHEMA}\n"
        "      sslmode: disable\n      connect_timeout: 30\n      threads: 1\n"
    )
    nodes = {
        f"model.{PROJECT_NAME}.posthog_{model}": {
            "database": redshift_stand_in.database,
            "schema": SCHEMA,
            "alias": f"posthog_{model}",
            "relation_name": f'"{redshift_stand_in.database}"."{SCHEMA}"."posthog_{model}"',
        }
        for model in MODELS
    }
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "manifest.json").write_bytes(
        orjson.dumps({"metadata": {"adapter_type": "redshift"}, "nodes": nodes})
    )
    yield tmp_path
    with contextlib.closing(redshift_stand_in.connect()) as connection:
        connection.cursor().execute(f"drop schema if exists {SCHEMA} cascade")
        connection.commit()


def _loader(project: Path, capture: CaptureServer, stand_in: RedshiftStandIn, *args: str):
    env = {
        **os.environ,
        "POSTHOG_API_KEY": TOKEN,
        "POSTHOG_HOST": capture.url,
        "POSTHOG_PERSONAL_API_KEY": PERSONAL_KEY,
        "POSTHOG_PROJECT_ID": PROJECT_ID,
        "POSTHOG_API_HOST": capture.url,
        "REDSHIFT_PASSWORD": stand_in.password,
    }
    env.pop("DBT_PROFILES_DIR", None)
    return subprocess.run(
        [sys.executable, "-m", "posthog_loader", *args, "--project-dir", str(project)],
        env=env,
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT,
        check=False,
    )


def _state(stand_in: RedshiftStandIn) -> list[tuple]:
    with contextlib.closing(stand_in.connect()) as connection:
        cursor = connection.cursor()
        cursor.execute(
            f"select model, rows_delivered from {SCHEMA}.posthog_load_state order by model"
        )
        return [tuple(row) for row in cursor.fetchall()]


def test_load_checkpoints_in_redshift_finds_late_rows_and_verifies(
    redshift_project: Path, redshift_stand_in: RedshiftStandIn
):
    rows = {model: rows_for(model, count) for model, count in zip(MODELS, (5, 7, 180), strict=True)}
    for model, model_rows in rows.items():
        _replace_rows(redshift_stand_in, model, model_rows)
    arguments = ("--batch-events", "50", "--window-rows", "60", "--retry-base-delay", "0.01")
    with CaptureServer(
        [TOKEN], keep_bodies=True, personal_api_keys=[PERSONAL_KEY], project_id=PROJECT_ID
    ) as capture:
        first = _loader(redshift_project, capture, redshift_stand_in, *arguments)

        assert first.returncode == 0, first.stdout + first.stderr
        assert sorted(capture.uuids()) == sorted(
            row.uuid for model in MODELS for row in rows[model]
        )
        assert _state(redshift_stand_in) == [("aliases", 5), ("events", 180), ("persons", 7)]

        requests = len(capture.requests)
        again = _loader(redshift_project, capture, redshift_stand_in, *arguments)

        assert again.returncode == 0, again.stdout + again.stderr
        assert len(capture.requests) == requests

        # A late event inside the look-back, beside the delivered ones: only it is sent.
        newest = max(row.timestamp for row in rows["events"])
        late = Row.valid("events", 10_000, newest - dt.timedelta(hours=1))
        _replace_rows(redshift_stand_in, "events", [*rows["events"], late])
        delivered = len(capture.uuids())
        third = _loader(redshift_project, capture, redshift_stand_in, *arguments)

        assert third.returncode == 0, third.stdout + third.stderr
        assert capture.uuids()[delivered:] == [late.uuid]

        # PostHog's counts per day and event agree with the events view read through Redshift.
        verified = _loader(redshift_project, capture, redshift_stand_in, "verify")

        assert verified.returncode == 0, verified.stdout + verified.stderr


def _warehouse(stand_in: RedshiftStandIn) -> RedshiftWarehouse:
    settings = {
        "type": "redshift",
        "host": "127.0.0.1",
        "port": stand_in.port,
        "user": stand_in.user,
        "password": stand_in.password,
        "dbname": stand_in.database,
        "schema": SCHEMA,
        "sslmode": "disable",
    }
    return RedshiftWarehouse(
        Target(profile="rs", name="redshift", type="redshift", settings=settings)
    )


def test_stream_reads_through_a_cursor_in_bounded_batches(redshift_stand_in: RedshiftStandIn):
    warehouse = _warehouse(redshift_stand_in)
    try:
        sql = (
            "select n, 'row ' || n as label, cast('2024-05-01' as timestamp) + n * interval '1 second' as at"
            " from generate_series(1, 25000) as n where n > %(after)s"
        )
        # The reading session, seen from the other one: inside a transaction, fetching from its cursor
        # 10,000 rows at a time (fewer round trips), handed on in batches of 700.
        reading = (
            "select count(*) from pg_stat_activity"
            " where state = 'idle in transaction' and query like 'fetch forward 10000 from %%'"
        )
        batches = warehouse.stream(sql, {"after": 1}, batch_rows=700)
        first = next(batches)
        # While the read is open its rows wait in a cursor on the server, not in the client.
        assert warehouse.fetch(reading, {}) == [(1,)]
        rest = list(batches)

        # 24,999 rows: two full fetches (14 batches of 700 and one of 200 each), then 4,999
        assert [batch.num_rows for batch in [first, *rest]] == ([700] * 14 + [200]) * 2 + [
            700
        ] * 7 + [99]
        assert first.schema.field("at").type == pa.timestamp("us")
        assert first.column("label")[0].as_py() == "row 2"
        assert rest[-1].column("n")[-1].as_py() == 25000
        assert warehouse.fetch(reading, {}) == [(0,)]  # the transaction, and its cursor, ended
    finally:
        warehouse.close()


def test_a_failed_read_leaves_both_connections_usable(redshift_stand_in: RedshiftStandIn):
    warehouse = _warehouse(redshift_stand_in)
    try:
        with pytest.raises(NotBuiltError, match="dbt build --target redshift"):
            list(warehouse.stream("select * from analytics.no_such_view", {}, batch_rows=10))
        with pytest.raises(WarehouseError, match="division by zero"):
            list(warehouse.stream("select 1 / (n - 3) from generate_series(1, 5) as n", {}, 2))

        assert [batch.num_rows for batch in warehouse.stream("select 1 as one", {}, 10)] == [1]
        assert warehouse.fetch("select %(text)s", {"text": "it's \\ fine"}) == [("it's \\ fine",)]
    finally:
        warehouse.close()


OVERSIZE_SCHEMA = "oversize_production"
# (event_id or user_id, the columns set): a column as long as Heap's VARCHAR(65535) holds (too long with the rest
# of the payload), two halves, one escaped past the limit, and one that fits close to it.
OVERSIZE_EVENTS = {
    9_000_000_000_000_001: "title = repeat('x', 65000)",
    9_000_000_000_000_002: "title = repeat('y', 34000), query = repeat('z', 34000)",
    9_000_000_000_000_003: "title = repeat('\"', 40000)",
    9_000_000_000_000_004: "title = repeat('w', 60000)",
}
OVERSIZE_USERS = {
    9_100_000_000_000_001: "plan_tier = repeat('p', 65000)",
    9_100_000_000_000_002: "plan_tier = repeat('q', 34000), initial_referrer = repeat('r', 34000)",
    9_100_000_000_000_003: "plan_tier = repeat('s', 60000)",
}


def _add_copies(cursor, table: str, key: str, changes: dict[int, str]) -> None:
    """Copies of the table's first row, each with a new key and the given columns set."""
    for value, assignments in changes.items():
        cursor.execute(
            f"create temp table one_row as select * from {OVERSIZE_SCHEMA}.{table} limit 1"
        )
        cursor.execute(f"update one_row set {key} = {value}, {assignments}")
        if table == "users":
            cursor.execute(f"update one_row set identity = 'big_{value}', email = null")
        cursor.execute(f"insert into {OVERSIZE_SCHEMA}.{table} select * from one_row")
        cursor.execute("drop table one_row")


def test_what_redshifts_varchar_cannot_hold_is_quarantined_with_its_reason(
    redshift_stand_in: RedshiftStandIn, duckdb_build, tmp_path_factory: pytest.TempPathFactory
):
    """A payload over 65,535 bytes cannot be a Redshift VARCHAR (building it fails the query): such rows are
    quarantined with the reason, never cut, and the build goes on; a row just under the limit is sent whole."""
    project = WarehouseProject.for_emulators(
        tmp_path_factory.mktemp("redshift_oversize") / "project", redshift=redshift_stand_in
    )
    with contextlib.closing(redshift_stand_in.connect()) as connection:
        cursor = connection.cursor()
        copy_to_redshift(cursor, duckdb_build.duckdb_path, HEAP_SCHEMA, OVERSIZE_SCHEMA)
        _add_copies(cursor, "pageviews", "event_id", OVERSIZE_EVENTS)
        _add_copies(cursor, "users", "user_id", OVERSIZE_USERS)
        connection.commit()
    project.dbt(
        "build", "--target", "redshift_oversize",
        vars={**REDSHIFT_VARS, "heap_schema": OVERSIZE_SCHEMA},
    )  # fmt: skip
    client = RedshiftClient(redshift_stand_in, REDSHIFT_OVERSIZE_SCHEMA)
    reason = "payload is over Redshift's 65,535-byte VARCHAR, which must hold it"

    events = dict(
        client.query(
            "select cast(source_row_id as bigint), status_reason from int_heap_events__classified"
            " where source_row_id like '90000000000000%'"
        )
    )
    persons = dict(
        client.query(
            "select cast(source_row_id as bigint), status_reason from int_heap_persons__mapped"
            " where source_row_id like '91000000000000%'"
        )
    )
    sent = client.query(
        "select octet_length(payload), payload from posthog_events"
        " where source_row_id = '9000000000000004'"
    )

    assert events == {
        **dict.fromkeys(list(OVERSIZE_EVENTS)[:3], reason),
        9_000_000_000_000_004: None,
    }
    assert persons == {
        **dict.fromkeys(list(OVERSIZE_USERS)[:2], reason),
        9_100_000_000_000_003: None,
    }
    ((size, payload),) = sent
    assert 60_000 < size <= 65_535
    assert orjson.loads(payload)["properties"]["title"] == "w" * 60_000
