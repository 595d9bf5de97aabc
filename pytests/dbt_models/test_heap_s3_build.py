"""Heap Connect's S3 route (`heap_s3_path`) against the warehouse route, through the real `dbt build`.

The Heap sample is written out as S3 dumps the way Heap Connect lays them out (pytests/support/heap_s3_dumps.py):
two dumps with an event table fully re-synced in the second (one of its events gone), a table that first appears
in the second dump, a column that appears in the second dump, a user whose properties changed, and users rows left
unmerged (S3 does not resolve identity). The warehouse route gets the same data as Heap's warehouses would hold it:
users merged by an independent Python implementation of Heap's rule. Both must give the same contract views; the
same bucket through a local S3 server (moto) must too.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest

from dbt_models.test_heap_build import resolve_final_users
from posthog_migrate_files.heap_s3 import land_heap_s3
from posthog_migrate_files.landing import LandingError
from posthog_migrate_files.s3 import prepare_connection
from support.dbt_project import DbtProject
from support.heap_s3_dumps import BUCKET, TableDump, write_dump
from support.s3_server import S3Server

HEAP = "heap_main_production"
EVENTS = 3000
RESYNCED = "checkout_complete_purchase"  # fully re-synced in dump 2, one event fewer
LATE_TABLE = "search_submit_query"  # first appears in dump 2
NEW_COLUMN = ("pageviews", "title")  # appears in dump 2
CONTRACT = ("posthog_events", "posthog_persons", "posthog_aliases")


def contract_rows(project: DbtProject) -> dict[str, dict[str, dict]]:
    """Each view's payloads by uuid, parsed: a column Heap adds later comes last in its table, so its property
    comes last in the JSON, which PostHog reads the same."""
    return {
        view: {u: json.loads(p) for u, p in project.query(f"select uuid, payload from {view}")}
        for view in CONTRACT
    }


def merge_users(rows: list[dict[str, Any]], final_of: dict[str, str]) -> list[dict[str, Any]]:
    """Heap's identity-resolution rule: each final user's row from its own and its merged users' rows (earliest
    joindate, latest last_modified, every other column its latest non-null value); merged users' rows kept."""
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(final_of.get(str(row["user_id"]), str(row["user_id"])), []).append(row)
    merged = []
    for final, members in groups.items():
        ordered = sorted(members, key=lambda r: r["last_modified"] or dt.datetime.min)
        out: dict[str, Any] = {}
        for column in members[0]:
            values = [r[column] for r in ordered if r[column] is not None]
            if column == "user_id":
                out[column] = int(final)
            elif column == "joindate":
                out[column] = min(values, default=None)
            elif column == "last_modified":
                out[column] = max(values, default=None)
            else:
                out[column] = values[-1] if values else None
        merged.append(out)
    return merged + [
        r for r in rows if final_of.get(str(r["user_id"]), str(r["user_id"])) != str(r["user_id"])
    ]


@pytest.fixture(scope="module")
def routes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("heap_s3")
    warehouse = DbtProject.copy_of_repo(root / "warehouse")
    warehouse.generate_heap(events=EVENTS)
    bucket = root / "bucket"
    with duckdb.connect(str(warehouse.duckdb_path)) as con:
        facts = _write_dumps_and_shape_warehouse(con, bucket)
    warehouse.dbt("build")
    s3_route = DbtProject.copy_of_repo(root / "s3_route")
    s3_route.dbt("build", vars={"heap_s3_path": str(bucket)})
    return {"warehouse": warehouse, "s3_route": s3_route, "bucket": bucket, "root": root, **facts}


def _write_dumps_and_shape_warehouse(
    con: duckdb.DuckDBPyConnection, bucket: Path
) -> dict[str, Any]:
    """Dumps from the sample; then the sample's tables become what Heap's warehouse would hold after them.
    S3 dumps hold no all_events and none of the warehouse sync's bookkeeping (_sync_info, _sync_history)."""
    tables = [
        name for (name,) in con.execute(
            "select table_name from information_schema.tables where table_schema = ? "
            "and table_name not in ('all_events', '_sync_info', '_sync_history') order by 1", [HEAP],
        ).fetchall()
    ]  # fmt: skip
    cutoff = con.execute(f"select median(time) from {HEAP}.pageviews").fetchone()[0]
    dropped_event = con.execute(
        f"select event_id from {HEAP}.{RESYNCED} where time < ? order by event_id limit 1", [cutoff]
    ).fetchone()[0]
    # A pair of merged users: the merged-away user joined first and carries a value its final user lacks.
    from_user, to_user = con.execute(
        f"""select m.from_user_id, m.to_user_id from {HEAP}.user_migrations m
            join {HEAP}.users f on f.user_id = m.from_user_id join {HEAP}.users t on t.user_id = m.to_user_id
            where m.to_user_id not in (select from_user_id from {HEAP}.user_migrations)
            order by m.from_user_id limit 1"""
    ).fetchone()
    con.execute(
        f"""update {HEAP}.users set email = 'from-merged-user@example.com',
            joindate = (select min(joindate) - interval 30 day from {HEAP}.users where user_id = {to_user})
            where user_id = {from_user}"""
    )
    con.execute(f"update {HEAP}.users set email = null where user_id = {to_user}")
    changed_user = con.execute(
        f"select user_id from {HEAP}.users where identity is not null and user_id not in ({from_user}, {to_user}) "
        "order by user_id limit 1"
    ).fetchone()[0]

    def dump_tables(dump_id: int) -> list[TableDump]:
        before, after = f"(time < '{cutoff}' or time is null)", f"time >= '{cutoff}'"
        out = []
        for name in tables:
            relation = f'{HEAP}."{name}"'
            if name == "users":
                query = (
                    f"select * replace (case when user_id = {changed_user} then 'old@example.com' "
                    f"else email end as email) from {relation}"
                    if dump_id == 1
                    else f"select * from {relation} where user_id = {changed_user}"
                )
                out.append(TableDump(name, query, incremental=dump_id == 2))
            elif name == LATE_TABLE and dump_id == 1:
                continue
            elif name == LATE_TABLE:
                out.append(TableDump(name, f"select * from {relation}", incremental=False))
            elif name == RESYNCED and dump_id == 2:
                out.append(
                    TableDump(
                        name,
                        f"select * from {relation} where event_id != {dropped_event}",
                        False,
                        2,
                    )
                )
            elif (name, dump_id) == (NEW_COLUMN[0], 1):
                out.append(
                    TableDump(
                        name, f"select * exclude ({NEW_COLUMN[1]}) from {relation} where {before}"
                    )
                )
            else:
                where = before if dump_id == 1 else after
                out.append(
                    TableDump(
                        name, f"select * from {relation} where {where}", incremental=dump_id == 2
                    )
                )
        return out

    write_dump(con, bucket, 1, dump_tables(1))
    write_dump(con, bucket, 2, dump_tables(2))

    # What Heap's warehouse holds after both dumps: the re-synced table without the dropped event, the new column
    # empty before it existed, and users merged.
    con.execute(f"delete from {HEAP}.{RESYNCED} where event_id = {dropped_event}")
    con.execute(
        f"update {HEAP}.{NEW_COLUMN[0]} set {NEW_COLUMN[1]} = null where time < ?", [cutoff]
    )
    migrations = [
        (str(a), str(b), t)
        for a, b, t in con.execute(f"select * from {HEAP}.user_migrations").fetchall()
    ]
    relation = con.sql(f"select * from {HEAP}.users")
    rows = [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]
    merged = merge_users(rows, resolve_final_users(migrations))
    con.execute(f"create or replace table {HEAP}.users as select * from {HEAP}.users where false")
    placeholders = ", ".join("?" for _ in relation.columns)
    con.executemany(
        f"insert into {HEAP}.users by position values ({placeholders})",
        [[row[c] for c in relation.columns] for row in merged],
    )
    return {
        "dropped_event": dropped_event,
        "to_user": to_user,
        "changed_user": changed_user,
        "cutoff": cutoff,
    }


def test_the_s3_route_gives_the_warehouse_routes_contract_views(routes) -> None:
    expected = contract_rows(routes["warehouse"])
    got = contract_rows(routes["s3_route"])
    for view in CONTRACT:
        assert got[view] == expected[view], view
    project: DbtProject = routes["s3_route"]
    tables = dict(project.query("select source_table, count(*) from posthog_events group by 1"))
    assert tables[LATE_TABLE] > 0, "a table first seen in the second dump"
    assert not project.query(
        f"select 1 from posthog_events where source_table = '{RESYNCED}' "
        f"and source_row_id = '{routes['dropped_event']}'"
    ), "the full resync dropped the rows of the earlier dump"
    persons = [
        p
        for p in got["posthog_persons"].values()
        if "from-merged-user@example.com" in json.dumps(p)
    ]
    assert len(persons) == 1, "the merged user's value reached its final user"


def test_every_dump_is_accounted_for_and_a_full_resync_supersedes_earlier_dumps(routes) -> None:
    project: DbtProject = routes["s3_route"]
    dumps = {
        (table, dump_id): (incremental, superseded, rows)
        for table, dump_id, incremental, superseded, rows in project.query(
            "select table_name, dump_id, incremental, superseded_by_dump_id, landed_rows from base_heap__s3_dumps"
        )
    }
    assert dumps[(RESYNCED, 1)][1:] == (2, 0)
    assert dumps[(RESYNCED, 2)][:2] == (False, None)
    assert (LATE_TABLE, 1) not in dumps and dumps[(LATE_TABLE, 2)][1] is None
    reconciliation = {
        table: (source, unaccounted)
        for table, source, unaccounted in project.query(
            "select source_table, source_rows, unaccounted_rows from posthog_reconciliation "
            "where source_name = 'heap'"
        )
    }
    for table in {t for t, _ in dumps} - {"users", "user_migrations"}:
        in_force = sum(r for (t, _), (_, s, r) in dumps.items() if t == table and s is None)
        assert reconciliation[table] == (in_force, 0), table
    warehouse = routes["warehouse"]
    assert project.query(
        "select source_rows from posthog_reconciliation where source_table = 'pageviews'"
    ) == (
        warehouse.query(
            "select source_rows from posthog_reconciliation where source_table = 'pageviews'"
        )
    )


def test_ids_above_2_53_stay_exact_and_times_are_utc(routes) -> None:
    project: DbtProject = routes["s3_route"]
    landing = f"{project.query('select current_schema()')[0][0]}_heap_landing"
    with duckdb.connect(str(project.duckdb_path), read_only=True) as con:
        event_id, big = con.execute(
            f"select event_id, user_id from {landing}.pageviews where user_id > 9007199254740993 limit 1"
        ).fetchone()
        kinds = dict(
            con.execute(
                f"select column_name, column_type from (describe {landing}.pageviews)"
            ).fetchall()
        )
    assert big > 2**53, "the sample has ids above 2^53"
    (payload,) = project.query(
        "select payload from posthog_events where source_table = 'pageviews' and source_row_id = ?",
        [str(event_id)],
    )[0]
    assert json.loads(payload)["properties"]["$heap_user_id"] == str(big)
    assert kinds["time"] == "TIMESTAMP" and kinds["event_id"] == "BIGINT"


def test_the_same_bucket_through_a_local_s3_server_gives_the_same_views(
    routes, tmp_path: Path
) -> None:
    with S3Server() as server:
        server.upload_folder(routes["bucket"], BUCKET, prefix="copy")
        project = DbtProject.copy_of_repo(tmp_path / "project")
        project.env |= server.env()
        project.dbt("build", vars={"heap_s3_path": f"s3://{BUCKET}/copy"})
        assert contract_rows(project) == contract_rows(routes["s3_route"])
        log = (project.root / "logs" / "dbt.log").read_text()
        assert server.env()["AWS_SECRET_ACCESS_KEY"] not in log


# ---------- bad files: a clear error naming the file, never a silent gap


@pytest.fixture
def copy_of_bucket(routes, tmp_path: Path) -> Path:
    bucket = tmp_path / "bucket"
    shutil.copytree(routes["bucket"], bucket)
    return bucket


def land(bucket: Path, tmp_path: Path) -> None:
    with duckdb.connect(str(tmp_path / "landing.duckdb")) as con:
        prepare_connection(con, str(bucket))
        land_heap_s3(con, str(bucket), "heap_landing")


def test_a_manifest_listing_a_missing_file_stops_with_the_file_named(
    copy_of_bucket, tmp_path
) -> None:
    missing = next((copy_of_bucket / "sync_2" / RESYNCED).glob("*.avro"))
    missing.unlink()
    with pytest.raises(LandingError, match=rf"sync_2.json \(dump 2\) lists .*{missing.name}"):
        land(copy_of_bucket, tmp_path)


def test_a_truncated_avro_file_stops_with_the_file_named(copy_of_bucket, tmp_path) -> None:
    damaged = next((copy_of_bucket / "sync_1" / "pageviews").glob("*.avro"))
    damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])
    with pytest.raises(LandingError, match=rf"{damaged.name} \(table pageviews\) cannot be read"):
        land(copy_of_bucket, tmp_path)


def test_an_unreadable_manifest_stops_with_its_name(copy_of_bucket, tmp_path) -> None:
    (copy_of_bucket / "manifests" / "sync_2.json").write_text('{"dump_id": 2, "tables": [')
    with pytest.raises(LandingError, match=r"sync_2\.json is not a Heap Connect manifest"):
        land(copy_of_bucket, tmp_path)


def test_an_avro_file_with_another_schema_lands_what_it_has_and_its_rows_are_quarantined(
    routes, copy_of_bucket, tmp_path
) -> None:
    """A file typed differently (time as text, ids as strings) is read as it says; a file of another shape
    (no event_id) lands its rows, which the build quarantines with a reason, counted in the reconciliation."""
    with duckdb.connect() as con:
        typed_as_text = (
            "select '77' as event_id, '4572292114282934' as user_id, "
            "'2024-07-06 12:31:08.412 UTC' as time, '/typed-as-text' as path"
        )
        write_dump(con, copy_of_bucket, 3, [TableDump("pageviews", typed_as_text)])
        write_dump(
            con,
            copy_of_bucket,
            4,
            [TableDump("pageviews", "select 1 as not_a_heap_column, 'x' as path")],
        )
    project = DbtProject.copy_of_repo(tmp_path / "project")
    project.dbt("build", vars={"heap_s3_path": str(copy_of_bucket)})
    (payload,) = [
        p for (p,) in project.query("select payload from posthog_events") if "/typed-as-text" in p
    ]
    assert '"timestamp":"2024-07-06T12:31:08.412000+00:00"' in payload
    assert '"$heap_event_id":"77"' in payload
    quarantined = project.query(
        "select reason from posthog_quarantine where source_table = 'pageviews'"
    )
    assert quarantined, "the row without an event id is quarantined, not dropped"
    (unaccounted,) = project.query(
        "select unaccounted_rows from posthog_reconciliation where source_table = 'pageviews'"
    )[0]
    assert unaccounted == 0
