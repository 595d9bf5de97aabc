"""The output does not depend on the build machine's time zone, nor on the zone of whoever reads the views.

Heap's times come zoned (TIMESTAMP WITH TIME ZONE, as DuckDB reads Heap's S3 Avro files) and Amplitude's warehouse
export is given zoned columns too: the same sample is built with TZ set to UTC, America/Los_Angeles and Asia/Kolkata,
and every contract row, reconciliation and quarantine row is compared byte for byte, read back in several zones, and
sent by `load-posthog --dry-run` running in yet another zone.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import duckdb

from support.dbt_project import BIN, DbtProject

AMPLITUDE_PROJECT_ID = 609539
VARS = {"amplitude_enabled": True, "amplitude_project_id": AMPLITUDE_PROJECT_ID}
ZONED_AMPLITUDE_TIMES = (
    "event_time",
    "client_event_time",
    "server_received_time",
    "server_upload_time",
)
CONTRACT_VIEWS = ("posthog_aliases", "posthog_persons", "posthog_events")


def build_in_zone(root: Path, zone: str) -> DbtProject:
    project = DbtProject.copy_of_repo(root)
    project.env["TZ"] = zone
    project.generate_heap(events=3000)
    project.run_sample(
        "amplitude", "--events", "1500", "--project-id", str(AMPLITUDE_PROJECT_ID),
        "--export-zip", str(root / "target" / "amplitude.zip"), "--duckdb-path", str(project.duckdb_path),
    )  # fmt: skip
    table = f"amplitude.EVENTS_{AMPLITUDE_PROJECT_ID}"
    project.execute(
        ";".join(
            f"alter table {table} alter {column} type timestamptz using timezone('UTC', {column})"
            for column in ZONED_AMPLITUDE_TIMES
        )
    )
    project.dbt("build", vars=VARS)
    return project


def output(project: DbtProject, reader_zone: str) -> dict[str, list[tuple]]:
    """Every row a user or the loader reads, as seen by a reader whose session is in `reader_zone`."""
    with duckdb.connect(str(project.duckdb_path), read_only=True) as con:
        con.execute(f"set TimeZone = '{reader_zone}'")
        con.execute("use posthog")
        rows = {
            view: sorted(con.execute(f"select uuid, payload from {view}").fetchall())
            for view in CONTRACT_VIEWS
        }
        for model in ("posthog_reconciliation", "posthog_quarantine"):
            rows[model] = sorted(
                con.execute(f"select * from {model}").fetchall(),
                key=lambda row: json.dumps(row, default=str),
            )
    return rows


def dry_run_events(project: DbtProject, zone: str, bodies: Path) -> list[dict]:
    result = subprocess.run(
        [str(BIN / "load-posthog"), "--dry-run", "--dry-run-dir", str(bodies), "--project-dir", str(project.root)],
        cwd=project.root, env={**project.env, "TZ": zone}, capture_output=True, text=True, timeout=600,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return sorted(
        (
            event
            for body in bodies.rglob("*.json")
            for event in json.loads(body.read_text())["batch"]
        ),
        key=lambda event: event["uuid"],
    )


def test_builds_and_reads_in_any_time_zone_give_the_same_bytes(tmp_path: Path) -> None:
    reference = build_in_zone(tmp_path / "utc", "UTC")
    expected = output(reference, "UTC")
    assert all(expected[view] for view in CONTRACT_VIEWS)
    sent = [json.loads(payload) for view in CONTRACT_VIEWS for _, payload in expected[view]]
    for zone in ("America/Los_Angeles", "Asia/Kolkata"):
        project = build_in_zone(tmp_path / zone.replace("/", "_"), zone)
        for reader_zone in ("UTC", zone, "Pacific/Chatham"):
            assert output(project, reader_zone) == expected, (zone, reader_zone)
    # the loader reads the views of the Kolkata build while running in Los Angeles
    assert dry_run_events(project, "America/Los_Angeles", tmp_path / "bodies") == sorted(
        sent, key=lambda event: event["uuid"]
    )
