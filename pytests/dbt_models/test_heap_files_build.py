"""Heap from files (`heap_files_path`): the PostHog guide's CSV files and Heap's one-time JSON export, through the
real `dbt build`, against the warehouse route on the same rows; bad files give a clear error naming the file."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from posthog_migrate_files.heap_export import land_heap_files
from posthog_migrate_files.landing import LandingError
from posthog_migrate_files.s3 import prepare_connection
from support.dbt_project import DbtProject
from support.heap_export_files import write_csv_files, write_json_export

HEAP = "heap_main_production"
EVENTS = 3000


def payloads(project: DbtProject, view: str, key: str = "uuid") -> dict[str, dict]:
    """Parsed payloads: property order follows column order, which a file need not share with a warehouse."""
    return {k: json.loads(p) for k, p in project.query(f"select {key}, payload from {view}")}


@pytest.fixture(scope="module")
def routes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("heap_files")
    warehouse = DbtProject.copy_of_repo(root / "warehouse")
    warehouse.generate_heap(events=EVENTS)
    with duckdb.connect(str(warehouse.duckdb_path), read_only=True) as con:
        csv_files = write_csv_files(con, HEAP, root / "csv")
        json_files = write_json_export(con, HEAP, root / "json")
    warehouse.dbt("build")
    built = {"warehouse": warehouse, "csv_files": csv_files, "json_files": json_files, "root": root}
    for route in ("csv", "json"):
        project = DbtProject.copy_of_repo(root / f"{route}_route")
        project.dbt("build", vars={"heap_files_path": str(root / route)})
        built[route] = project
    return built


def test_the_guides_csv_files_give_the_warehouse_routes_contract_views(routes) -> None:
    for view in ("posthog_events", "posthog_persons", "posthog_aliases"):
        assert payloads(routes["csv"], view) == payloads(routes["warehouse"], view), view
    with_utc = [p for p in routes["csv_files"] if " UTC" in p.read_text().splitlines()[1]]
    assert with_utc and len(with_utc) < len(routes["csv_files"]), "both time spellings are read"


def test_the_one_time_json_export_gives_the_same_events_persons_and_aliases(routes) -> None:
    warehouse, exported = routes["warehouse"], routes["json"]
    assert payloads(exported, "posthog_events") == payloads(warehouse, "posthog_events")
    assert payloads(exported, "posthog_aliases") == payloads(warehouse, "posthog_aliases")
    # A person's uuid hashes its properties' text, whose key order follows the columns: compare by person.
    persons = payloads(exported, "posthog_persons", key="distinct_id")
    expected = payloads(warehouse, "posthog_persons", key="distinct_id")
    assert {d: p["properties"] for d, p in persons.items()} == {
        d: p["properties"] for d, p in expected.items()
    }
    assert {d: p["timestamp"] for d, p in persons.items()} == {
        d: p["timestamp"] for d, p in expected.items()
    }


def test_ids_stay_exact_text_and_every_file_is_accounted_for(routes) -> None:
    project: DbtProject = routes["json"]
    files = dict(project.query("select file_path, landed_rows from base_heap__export_files"))
    assert len(files) == len(routes["json_files"])
    reconciliation = {
        table: (role, source_rows)
        for table, role, source_rows in project.query(
            "select source_table, table_role, source_rows from posthog_reconciliation"
            " where source_name = 'heap'"
        )
    }
    for path, rows in files.items():
        table = Path(path).name.split(".")[-3]
        role, source_rows = reconciliation[table]
        # Heap's bookkeeping is listed with its role and not read, so it has no row count
        if role == "sync metadata":
            assert source_rows is None, table
        elif table not in ("user_migrations",):
            assert source_rows == rows, table
    assert reconciliation["_posthog_landed_files"][0] == "landing ledger"
    landing = "posthog_heap_landing"
    with duckdb.connect(str(project.duckdb_path), read_only=True) as con:
        kinds = dict(
            con.execute(
                f"select column_name, column_type from (describe {landing}.users)"
            ).fetchall()
        )
        biggest = con.execute(
            f"select max(cast(user_id as hugeint)) from {landing}.users"
        ).fetchone()[0]
    assert kinds["user_id"] == "VARCHAR" and "id" not in kinds
    assert biggest > 2**53
    assert kinds["joindate"] == "TIMESTAMP", "epoch milliseconds became a time"


# ---------- bad files


def land(folder: Path, tmp_path: Path) -> list:
    with duckdb.connect(str(tmp_path / "landing.duckdb")) as con:
        prepare_connection(con, str(folder))
        return land_heap_files(con, str(folder), "heap_landing")


def test_an_unreadable_csv_row_stops_with_the_file_and_line_named(tmp_path: Path) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "northwind.main.pageviews.csv").write_text(
        "event_id,user_id,time,path\n"
        "1,4572292114282934,2024-07-06 12:31:08.412 UTC,/a\n"
        '2,4572292114282934,2024-07-06 12:32:08.412 UTC,"/b\n'
        "3,4572292114282934,2024-07-06 12:33:08.412 UTC,/c,unexpected\n"
    )
    with pytest.raises(LandingError, match=r"northwind\.main\.pageviews\.csv \(table pageviews\)"):
        land(folder, tmp_path)


def test_a_truncated_gzip_file_stops_with_the_file_named(routes, tmp_path: Path) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    source = next(p for p in routes["json_files"] if ".pageviews." in p.name)
    data = source.read_bytes()
    (folder / source.name).write_bytes(data[: len(data) // 2])
    with pytest.raises(LandingError, match=rf"{source.name} \(table pageviews\) cannot be read"):
        land(folder, tmp_path)


def test_export_dates_as_text_epoch_or_invalid_are_read_and_missing_tables_land_empty(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    users = [
        {"id": "(2008543124,4572292114282934)", "joindate": 1720269068412, "last_modified": "Invalid date",
         "identity": "ana@northwind.io", "properties": {"Plan Tier": "pro"}},
        {"id": "(2008543124,9031284476120018)", "joindate": "2024-07-06 12:31:08.412 UTC",
         "last_modified": "2024-07-07T10:00:00Z", "identity": None, "properties": {}},
    ]  # fmt: skip
    with gzip.open(folder / "northwind.main.users.jsonl.gz", "wt") as sink:
        sink.write("\n".join(json.dumps(u) for u in users) + "\n")
    summary = land(folder, tmp_path)
    assert [(s.table_name, s.landed_rows) for s in summary] == [("users", 2)]
    with duckdb.connect(str(tmp_path / "landing.duckdb"), read_only=True) as con:
        rows = con.execute(
            'select user_id, joindate, last_modified, "Plan Tier" from heap_landing.users order by user_id'
        ).fetchall()
        tables = {t for (t,) in con.execute("select table_name from information_schema.tables "
                                             "where table_schema = 'heap_landing'").fetchall()}  # fmt: skip
    assert [(r[0], r[1].isoformat(), r[2] and r[2].isoformat(), r[3]) for r in rows] == [
        ("4572292114282934", "2024-07-06T12:31:08.412000", None, "pro"),
        ("9031284476120018", "2024-07-06T12:31:08.412000", "2024-07-07T10:00:00", None),
    ]
    assert {"sessions", "user_migrations"} <= tables
