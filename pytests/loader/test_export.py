"""`load-posthog export`: the contract views as parts for PostHog's managed import, to a folder and to
a real S3 API server on 127.0.0.1, read back the way PostHog's importer reads them."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from loader.conftest import OLD, TOKEN, Project, Row, rows_for
from posthog_loader.errors import DestinationUnavailableError
from posthog_loader.export.destination import FolderDestination, S3Destination
from support.managed_import import ImportedEvent, import_parts
from support.s3_server import SECRET_ACCESS_KEY, S3Server

BUCKET = "exports"


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with S3Server() as server:
        yield server


def _folder_parts(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file()
    }


def _imported(files: dict[str, bytes]) -> list[ImportedEvent]:
    return import_parts(files, files.__getitem__)


def _check_order_and_days(events: list[ImportedEvent], *, sharded: bool = False) -> None:
    """Models in canonical order, then within each model UTC days oldest first, every part one
    day, rows in time order (shards: their parts interleave within a day, which PostHog's "a
    strict sort is not necessary" allows): what PostHog asks of an import."""
    folders = [event.key.split("/")[0] for event in events]
    assert folders == sorted(folders)
    for event in events:
        day = event.key.split("/")[1]
        assert event.timestamp is not None and event.timestamp[:10] == day, event.key
    per_model: dict[str, list[str]] = {}
    for event in events:
        stamp = event.timestamp or ""
        per_model.setdefault(event.key.split("/")[0], []).append(stamp[:10] if sharded else stamp)
    for timestamps in per_model.values():
        assert timestamps == sorted(timestamps)


def _check_manifest(manifest: dict, files: dict[str, bytes], events: list[ImportedEvent]) -> None:
    parts = [part for part in manifest["parts"] if part["key"]]
    assert sorted(part["key"] for part in parts) == sorted(k for k in files if k.endswith(".gz"))
    for part in parts:
        data = files[part["key"]]
        assert hashlib.sha256(data).hexdigest() == part["sha256"]
        assert part["bytes"] == len(data)
        inside = [event for event in events if event.key == part["key"]]
        assert part["events"] == len(inside)
        assert part["first_timestamp"][:19] == inside[0].timestamp[:19]  # type: ignore[index]
        assert part["last_timestamp"][:19] == inside[-1].timestamp[:19]  # type: ignore[index]
    assert manifest["totals"]["events"] == len(events)
    assert manifest["content_type"] == "posthog"


def test_export_to_a_folder_is_what_posthogs_importer_takes(project: Project, tmp_path: Path):
    out = tmp_path / "export"
    report_path = tmp_path / "report.json"

    result = project.export("--to", str(out), "--report", str(report_path))

    assert result.exit_code == 0, result.output
    files = _folder_parts(out)
    events = _imported(files)
    # Every row of the three views exactly once, with its own uuid, as PostHog would store it.
    assert sorted(event.uuid for event in events) == sorted(project.uuids())
    assert len({event.uuid for event in events}) == len(events)
    _check_order_and_days(events)
    by_uuid = {row.uuid: row for rows in project.rows.values() for row in rows}
    for event in events:
        row = by_uuid[event.uuid]
        assert (event.event, event.distinct_id) == (row.event, row.distinct_id)
        assert orjson.loads(row.payload or "")["properties"].items() <= event.properties.items()
    # Parts of aliases, then persons, then events; the manifest is not a part.
    folders = sorted({key.split("/")[0] for key in files if key.endswith(".gz")})
    assert folders == ["1-aliases", "2-persons", "3-events"]
    manifest = orjson.loads(files["manifest.json"])
    _check_manifest(manifest, files, events)
    # The totals reconcile with the views: every row exported (none quarantined or held here).
    for model, rows in project.rows.items():
        summary = manifest["models"][model]
        assert summary["events"] + summary["quarantined"] + summary["held"] == len(rows)
        assert summary["status"] == "complete"
    assert manifest["finished_at"] is not None
    report = orjson.loads(report_path.read_bytes())
    assert report["lane"] == "export" and report["destination"] == str(out)
    assert report["totals"]["sent"] == 450
    assert not [key for key in files if "partial" in key]


def test_export_to_s3_through_the_aws_variables(project: Project, s3: S3Server, tmp_path: Path):
    s3.create_bucket(BUCKET)
    report_path = tmp_path / "report.json"

    result = project.export(
        "--to", f"s3://{BUCKET}/heap/run-1", "--report", str(report_path), env=s3.env()
    )

    assert result.exit_code == 0, result.output
    client = s3.client()
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix="heap/run-1/")["Contents"]
    files = {
        item["Key"].removeprefix("heap/run-1/"): client.get_object(Bucket=BUCKET, Key=item["Key"])[
            "Body"
        ].read()
        for item in listed
    }
    events = _imported(files)
    assert sorted(event.uuid for event in events) == sorted(project.uuids())
    _check_order_and_days(events)
    _check_manifest(orjson.loads(files["manifest.json"]), files, events)
    # Credentials come from the environment and go nowhere else.
    everything = (
        result.stdout + result.stderr + report_path.read_text() + str(files["manifest.json"])
    )
    assert SECRET_ACCESS_KEY not in everything and TOKEN not in everything


def test_a_missing_bucket_stops_before_anything_is_read(project: Project, s3: S3Server):
    result = project.export("--to", "s3://no-such-bucket/x", env=s3.env())

    assert result.exit_code == 2
    assert "s3://no-such-bucket/x" in result.stderr and "NoSuchBucket" in result.stderr
    assert project.query(
        "select count(*) from information_schema.tables where table_name = 'posthog_load_state'"
    ) == [(0,)]


def test_rows_capture_would_refuse_are_quarantined_not_exported(empty_project: Project, tmp_path):
    rows = rows_for("events", 30, step=dt.timedelta(minutes=1))
    rows[3].distinct_id = ""
    rows[7].payload = "{broken"
    rows[9] = Row(rows[8].uuid, "twin", "u", rows[9].timestamp, rows[8].payload)
    # Valid JSON, but a line break inside would cut the event in two in a JSON-lines file.
    rows[12].payload = (rows[12].payload or "").replace(',"event"', ',\n"event"')
    empty_project.set_rows("events", rows)
    out = tmp_path / "export"

    result = empty_project.export("--to", str(out), "--models", "events")

    assert result.exit_code == 1
    files = _folder_parts(out)
    events = _imported(files)
    assert sorted(event.uuid for event in events) == sorted(
        {row.uuid for index, row in enumerate(rows) if index not in (3, 7, 9, 12)}
    )
    manifest = orjson.loads(files["manifest.json"])
    assert manifest["models"]["events"]["quarantined_by_reason"] == {
        "duplicate_uuid": 1,
        "empty_distinct_id": 1,
        "invalid_payload": 2,
    }
    assert manifest["models"]["events"]["events"] + 4 == len(rows)


def test_an_interrupted_export_resumes_without_a_duplicate_or_a_leftover(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    out = tmp_path / "export"
    state = tmp_path / "state.json"
    original = FolderDestination.put
    written: list[str] = []

    def fail_after_four_parts(self, key: str, data: bytes, sha256: bytes | None = None) -> None:
        if key.endswith(".gz") and len(written) >= 4:
            raise DestinationUnavailableError("disk full (injected)")
        original(self, key, data, sha256)
        written.append(key)

    monkeypatch.setattr(FolderDestination, "put", fail_after_four_parts)
    first = project.export("--to", str(out), "--state-file", str(state), "--concurrency", "1")
    assert first.exit_code == 9
    assert "disk full" in first.stderr
    assert orjson.loads((out / "manifest.json").read_bytes())["finished_at"] is None
    # A part written after the last save, as a crash would leave it: not in the manifest.
    stray = (
        "3-events/2024-03-01/20240301T235959000000Z-00000000-0000-4000-8000-000000000000.jsonl.gz"
    )
    (out / stray).parent.mkdir(parents=True, exist_ok=True)
    (out / stray).write_bytes(b"")

    monkeypatch.setattr(FolderDestination, "put", original)
    second = project.export("--to", str(out), "--state-file", str(state))

    assert second.exit_code == 0, second.output
    files = _folder_parts(out)
    assert stray not in files
    events = _imported(files)
    assert sorted(event.uuid for event in events) == sorted(project.uuids())
    _check_manifest(orjson.loads(files["manifest.json"]), files, events)


def test_exports_are_incremental_and_never_add_to_a_finished_one(project: Project, tmp_path: Path):
    first, second = tmp_path / "2024-03-04", tmp_path / "2024-03-05"
    assert project.export("--to", str(first)).exit_code == 0
    later = [Row.valid("events", 1000 + i, OLD + dt.timedelta(days=3, minutes=i)) for i in range(5)]
    project.add_rows("events", later)

    refused = project.export("--to", str(first))
    assert refused.exit_code == 2
    assert "new prefix" in refused.stderr and "5 new events rows" in refused.stderr

    assert project.export("--to", str(second)).exit_code == 0
    assert sorted(e.uuid for e in _imported(_folder_parts(second))) == sorted(r.uuid for r in later)
    # The capture lane shares the checkpoint: nothing exported is sent again.
    assert project.run().exit_code == 0
    assert project.server.uuids() == []


def test_reset_rewrites_a_destination_from_the_start(project: Project, tmp_path: Path):
    out = tmp_path / "export"
    assert project.export("--to", str(out), "--models", "events").exit_code == 0
    before = {k for k in _folder_parts(out) if k.endswith(".gz")}

    again = project.export("--to", str(out), "--models", "events", "--reset", "--part-events", "90")

    assert again.exit_code == 0, again.output
    files = _folder_parts(out)
    assert not before & {k for k in files if k.endswith(".gz")} - {
        p["key"] for p in orjson.loads(files["manifest.json"])["parts"]
    }
    events = _imported(files)
    assert sorted(event.uuid for event in events) == sorted(project.uuids("events"))


def test_shards_write_disjoint_parts_into_one_prefix(project: Project, tmp_path: Path):
    out = tmp_path / "export"

    for shard in ("0/2", "1/2"):
        result = project.export("--to", str(out), "--shard", shard)
        assert result.exit_code == 0, result.output

    files = _folder_parts(out)
    assert {"manifest.shard-0-of-2.json", "manifest.shard-1-of-2.json"} <= files.keys()
    events = _imported(files)
    assert sorted(event.uuid for event in events) == sorted(project.uuids())
    _check_order_and_days(events, sharded=True)
    per_shard = [orjson.loads(files[f"manifest.shard-{i}-of-2.json"]) for i in range(2)]
    assert sum(m["totals"]["events"] for m in per_shard) == 450


def test_a_destination_that_is_not_a_folder_or_s3_is_a_config_error(project: Project):
    result = project.export("--to", "gs://bucket/prefix")

    assert result.exit_code == 2
    assert "s3://bucket/prefix" in result.stderr


def test_large_parts_go_up_as_multipart_uploads_completed_at_the_end(
    project: Project, s3: S3Server, monkeypatch: pytest.MonkeyPatch
):
    s3.create_bucket("multipart")
    # Every part over 1 KiB takes the multipart path (S3 shows the object only once completed).
    monkeypatch.setattr("posthog_loader.export.destination.MULTIPART_BYTES", 1024)
    completed: list[str] = []
    original = S3Destination.put

    def spy(self: S3Destination, key: str, data: bytes, sha256: bytes | None = None) -> None:
        original(self, key, data, sha256)
        if len(data) >= 1024:
            completed.append(key)

    monkeypatch.setattr(S3Destination, "put", spy)

    result = project.export("--to", "s3://multipart/x", "--models", "events", env=s3.env())

    assert result.exit_code == 0, result.output
    client = s3.client()
    assert client.list_multipart_uploads(Bucket="multipart").get("Uploads", []) == []
    listed = [item["Key"] for item in client.list_objects_v2(Bucket="multipart")["Contents"]]
    assert {f"x/{key}" for key in completed if key.endswith(".gz")} <= set(listed)
    files = {
        key.removeprefix("x/"): client.get_object(Bucket="multipart", Key=key)["Body"].read()
        for key in listed
    }
    events = _imported(files)
    assert sorted(event.uuid for event in events) == sorted(project.uuids("events"))
    _check_manifest(orjson.loads(files["manifest.json"]), files, events)
