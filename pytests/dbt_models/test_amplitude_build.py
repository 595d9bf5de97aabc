"""The Amplitude sample through the real `dbt build` and `load-posthog --dry-run`, checked against the raw export.

Expectations are computed in Python from the export's JSON lines and the mapping seeds, not read back from the
models.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import json
import re
import subprocess
import uuid
import zipfile
from collections import defaultdict
from pathlib import Path

import pytest

from support.amplitude_export_server import AmplitudeExportServer
from support.dbt_project import BIN, REPO_ROOT, DbtProject
from support.s3_server import S3Server

CANONICAL_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_HYPHENATED = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
UUID_FORMS = rf"{_HYPHENATED}|[0-9a-f]{{32}}|\{{{_HYPHENATED}\}}|urn:uuid:{_HYPHENATED}"
ILLEGAL = {
    "null",
    "anonymous",
    "0",
    "undefined",
    "none",
    "nan",
    "true",
    "false",
    "guest",
    "id",
    "email",
}
EVENTS = 6000
EXPORT_VARS = {"heap_enabled": False, "amplitude_enabled": True}
with (REPO_ROOT / "seeds/mappings/amplitude_event_property_map.csv").open() as seed:
    PROPERTY_RENAMES = {
        row["amplitude_property"]: row["posthog_property"] for row in csv.DictReader(seed)
    }


def legal(value: str | None) -> bool:
    return bool(value and value.strip()) and value.strip().strip("\"'").lower() not in ILLEGAL


def parse_time(text: str | None) -> dt.datetime | None:
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f") if text else None


def event_time(line: dict) -> dt.datetime | None:
    """event_time, else client_event_time, each only when not in the future (a device clock set wrong: PostHog's
    importer, PR #56079), else server_received_time; none when that is more than 23 hours ahead."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    for key in ("event_time", "client_event_time"):
        if line[key] and parse_time(line[key]) <= now:
            return parse_time(line[key])
    received = parse_time(line["server_received_time"])
    return received if received and received <= now + dt.timedelta(hours=23) else None


def parsed_uuid(text: str | None) -> str | None:
    """The uuid PostHog's importer reads (Rust's Uuid::parse_str), lower-case and hyphenated."""
    try:
        return str(uuid.UUID(text)) if text and re.fullmatch(UUID_FORMS, text, re.I) else None
    except ValueError:
        return None


def is_sent(line: dict | None) -> bool:
    """Not quarantined: JSON, a time, an id, properties that are an object."""
    return (
        line is not None
        and event_time(line) is not None
        and (legal(line["user_id"]) or legal(line["device_id"]))
        and isinstance(line["event_properties"], dict)
    )


def export_lines(archive: Path) -> list[dict | None]:
    """Every line of the export; None for a line that is not JSON."""
    lines: list[dict | None] = []
    with zipfile.ZipFile(archive) as zipped:
        for name in sorted(zipped.namelist()):
            for raw in gzip.decompress(zipped.read(name)).decode().splitlines():
                try:
                    lines.append(json.loads(raw))
                except json.JSONDecodeError:
                    lines.append(None)
    return lines


def project_with_export(root: Path) -> tuple[DbtProject, Path]:
    project = DbtProject.copy_of_repo(root)
    archive = project.root / "exports" / "amplitude.zip"
    project.run_sample("amplitude", "--events", str(EVENTS), "--export-zip", str(archive))
    return project, archive


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[DbtProject, list[dict]]:
    project, archive = project_with_export(tmp_path_factory.mktemp("amplitude") / "project")
    project.dbt("build", vars={**EXPORT_VARS, "amplitude_export_path": str(archive)})
    return project, export_lines(archive)


def emitted_payloads(project: DbtProject) -> dict[str, dict]:
    return {u: json.loads(p) for u, p in project.query("select uuid, payload from posthog_events")}


def test_every_line_is_emitted_quarantined_or_skipped(built) -> None:
    project, lines = built
    (row,) = project.query(
        "select source_rows, emitted_rows, quarantined_rows, skipped_rows, unaccounted_rows,"
        " emitted_rows_missing from posthog_reconciliation"
        " where source_name = 'amplitude' and source_table = 'export'"
    )
    source, emitted, quarantined, skipped, unaccounted, missing = row
    assert source == len(lines)
    assert emitted + quarantined + skipped == source
    assert (unaccounted, missing) == (0, 0)
    reasons = dict(project.query("select reason, count(*) from posthog_quarantine group by 1"))
    assert reasons["not valid JSON"] == sum(line is None for line in lines)
    # one bad line never fails the build: it is quarantined and counted
    assert reasons["event_properties is not a JSON object"] == 1
    assert (
        sum(count for reason, count in reasons.items() if reason.startswith("no usable time")) == 1
    )
    assert sum(reasons.values()) == sum(not is_sent(line) for line in lines)


def test_a_device_clock_in_the_future_falls_back_to_the_server_time(built) -> None:
    project, lines = built
    future = [line for line in filter(None, lines) if (line["event_time"] or "") > "2090"
              or (line["client_event_time"] or "") > "2090"]  # fmt: skip
    assert len(future) == 3
    sent = dict(project.query("select uuid, timestamp from posthog_events"))
    for line in future:
        if parse_time(line["server_received_time"]).year < 2090:
            assert sent[line["uuid"]] == parse_time(line["server_received_time"])
        else:
            assert line["uuid"] not in sent


def test_uuids_are_amplitudes_own_when_they_parse_and_redeliveries_collapse(built) -> None:
    project, lines = built
    payloads = emitted_payloads(project)
    copies: dict[str, list[dict]] = defaultdict(list)
    for line in filter(None, lines):
        copies[line["$insert_id"]].append(line)
    redelivered = {key for key, rows in copies.items() if len(rows) > 1}
    assert redelivered, "the sample must contain re-delivered events"
    sent_insert_ids = [p["properties"]["$insert_id"] for p in payloads.values()]
    assert len(sent_insert_ids) == len(set(sent_insert_ids)), "one event per $insert_id"
    forms = set()
    for line in filter(is_sent, lines):
        own = parsed_uuid(line["uuid"])
        if own in payloads:
            assert CANONICAL_UUID.match(own)
            assert payloads[own]["properties"]["$insert_id"] == line["$insert_id"]
            forms.add(line["uuid"][0] if not CANONICAL_UUID.match(line["uuid"].lower()) else "-")
    assert {"-", "5", "{", "u"} <= forms, (
        "hyphenated, 32 hex digits, braced and urn:uuid: uuids are kept"
    )
    derived = [u for u in payloads if uuid.UUID(u).version == 8]
    assert derived, "rows whose uuid does not parse get a derived one"
    # lines missing a uuid and parts of the fallback (no device, no event id, no client time) are each one event
    edge = {
        p["properties"]["query"]: p
        for p in payloads.values()
        if "edge line" in str(p["properties"].get("query"))
    }
    assert edge["edge line -4"]["uuid"] != edge["edge line -5"]["uuid"]
    assert edge["edge line -4"]["distinct_id"] == "no-device@northwind.io"


def test_distinct_id_time_properties_and_sessions_follow_the_rules(built) -> None:
    project, lines = built
    payloads = emitted_payloads(project)
    checked = 0
    for line in filter(is_sent, lines):
        event = payloads.get(parsed_uuid(line["uuid"]))
        if event is None:
            continue
        checked += 1
        assert event["distinct_id"] == (
            line["user_id"] if legal(line["user_id"]) else line["device_id"]
        )
        assert dt.datetime.fromisoformat(event["timestamp"]).replace(tzinfo=None) == event_time(
            line
        )
        props = event["properties"]
        if line["platform"] == "Web":  # Amplitude's web quirk: os_* is the browser, device_* the OS
            assert props.get("$browser") == line["os_name"]
            assert props.get("$browser_version") == (line["os_version"] or None)
            assert props.get("$os") == line["device_family"]
            assert props["$device_type"] == (
                "Mobile" if line["device_type"] in ("iOS", "Android") else "Desktop"
            )
        else:
            assert props["$os"] == {"ios": "iOS", "android": "Android"}[line["os_name"]]
            assert props["$os_version"] == line["os_version"]
            assert props["$device_type"] == "Mobile"
            assert "$browser" not in props
        for key, value in line["event_properties"].items():
            # renamed, the original kept beside it as PostHog's importer keeps it; nested values intact
            assert props[PROPERTY_RENAMES.get(key, key)] == props[key] == value
        # PostHog's importer marks what it imports
        assert (props["analytics_source"], props["historical_migration"]) == ("amplitude", True)
        assert props["$amplitude_device_id"] == props["$device_id"] == line["device_id"]
        if 0 < line["session_id"] < 2**48:
            session = uuid.UUID(props["$session_id"])
            assert session.version == 7
            assert session.int >> 80 == line["session_id"]
        else:
            assert "$session_id" not in props
        if line["groups"]:
            assert props["$groups"] == {kind: keys[0] for kind, keys in line["groups"].items()}
    assert checked > 1000


PLACES = {
    "country": "geoip_country_name",
    "region": "geoip_subdivision_1_name",
    "city": "geoip_city_name",
}


def test_persons_carry_the_latest_set_the_first_touch_set_once_and_the_place(built) -> None:
    project, lines = built
    history: dict[str, list[dict]] = defaultdict(list)
    for line in filter(is_sent, lines):
        if legal(line["user_id"]):
            history[line["user_id"]].append(line)
    persons = {
        distinct: (json.loads(set_props), json.loads(set_once))
        for distinct, set_props, set_once in project.query(
            "select distinct_id, set_properties, set_once_properties from posthog_persons where event = '$set'"
        )
    }
    assert set(persons) == set(history), "every user with a property or a place is a person"
    for user, (set_props, set_once) in persons.items():
        ordered = sorted(history[user], key=event_time)
        with_properties = [line for line in ordered if line["user_properties"]]
        latest = with_properties[-1]["user_properties"] if with_properties else {}
        expected_set = {
            k: v for k, v in latest.items() if not k.startswith("initial_") and v != "EMPTY"
        }
        first_touch: dict = {}
        for line in with_properties:
            for key, value in line["user_properties"].items():
                if key.startswith("initial_"):
                    first_touch.setdefault("$" + key, value)
        expected_set_once = {k: v for k, v in first_touch.items() if v != "EMPTY"}
        # the place PostHog's GeoIP would have set: the latest as $geoip_*, the first as $initial_geoip_*
        located = [line for line in ordered if any(line[column] for column in PLACES)]
        if located:
            for column, name in PLACES.items():
                if located[-1][column]:
                    expected_set.setdefault("$" + name, located[-1][column])
                if located[0][column]:
                    expected_set_once.setdefault("$initial_" + name, located[0][column])
        assert set_props == expected_set, user
        assert set_once == expected_set_once, user
    assert any("$geoip_country_name" in set_props for set_props, _ in persons.values())


def group_id(kind: str, key: str) -> str:
    """A group's source_user_id: its type and key as JSON strings."""
    return f"{json.dumps(kind, ensure_ascii=False)}:{json.dumps(key, ensure_ascii=False)}"


def test_groups_get_one_update_with_their_own_latest_properties(built) -> None:
    project, lines = built
    latest: dict[tuple[str, str], tuple[dt.datetime, dict]] = {}
    for line in filter(is_sent, lines):
        for kind, keys in (line["group_properties"] or {}).items():
            for key, properties in keys.items():
                when = event_time(line)
                if not isinstance(properties, dict):
                    continue
                if (kind, key) not in latest or when >= latest[(kind, key)][0]:
                    latest[(kind, key)] = (when, properties)
    assert latest, "the sample must carry group properties"
    updates = {
        source_user_id: json.loads(payload)
        for source_user_id, payload in project.query(
            "select source_user_id, payload from posthog_persons where event = '$groupidentify'"
        )
    }
    assert set(updates) == {group_id(kind, key) for kind, key in latest}
    for (kind, key), (_, properties) in latest.items():
        update = updates[group_id(kind, key)]
        assert update["distinct_id"] == f"${kind}_{key}"
        assert update["properties"]["$group_type"] == kind
        assert update["properties"]["$group_key"] == key
        assert update["properties"]["$group_set"] == properties, (
            "the group's own properties, not the nest"
        )
    assert (
        project.query("select count(*) from posthog_events where event = '$groupidentify'")[0][0]
        == 0
    )


def test_each_device_is_linked_once_to_the_first_user_seen_on_it(built) -> None:
    project, lines = built
    users_of: dict[str, dict[str, dt.datetime]] = defaultdict(dict)
    for line in filter(is_sent, lines):
        device, user, when = line["device_id"], line["user_id"], event_time(line)
        if legal(device) and legal(user) and when and device != user:
            users_of[device][user] = min(when, users_of[device].get(user, when))
    expected = {
        device: min(users, key=lambda u: (users[u], u)) for device, users in users_of.items()
    }
    assert dict(project.query("select alias, distinct_id from posthog_aliases")) == expected
    assert any(len(users) > 1 for users in users_of.values()), "the sample must share some devices"


def test_a_fetched_folder_and_the_warehouse_export_give_the_same_events(
    built, tmp_path: Path
) -> None:
    zipped, _ = built
    from_zip = {
        u: without_insert_id(p) for u, p in zipped.query("select uuid, payload from posthog_events")
    }
    project, archive = project_with_export(tmp_path / "project")
    # the same export through the Export API: posthog-migrate-fetch's folder is read as it is
    folder = tmp_path / "fetched"
    api = AmplitudeExportServer("amp_key", "amp_secret")
    api.add_archive(archive)
    with api.running():
        fetched = subprocess.run(
            [str(BIN / "posthog-migrate-fetch"), "amplitude", "--start", "2026-01-01", "--end", "2026-07-31",
             "--to", str(folder), "--endpoint", api.endpoint],
            env={**project.env, "AMPLITUDE_API_KEY": "amp_key", "AMPLITUDE_SECRET_KEY": "amp_secret"},
            capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
    assert fetched.returncode == 0, fetched.stdout + fetched.stderr
    project.dbt("build", vars={**EXPORT_VARS, "amplitude_export_path": str(folder)})
    assert {
        u: without_insert_id(p)
        for u, p in project.query("select uuid, payload from posthog_events")
    } == from_zip
    project.run_sample(
        "amplitude", "--events", str(EVENTS), "--export-zip", str(tmp_path / "again.zip"),
        "--duckdb-path", str(project.duckdb_path),
    )  # fmt: skip
    project.dbt("build", vars={**EXPORT_VARS, "amplitude_project_id": 609539})
    assert {
        u: without_insert_id(p)
        for u, p in project.query("select uuid, payload from posthog_events")
    } == from_zip


def without_insert_id(payload: str) -> str:
    """The warehouse export has no $insert_id column; everything else must be identical."""
    event = json.loads(payload)
    event["properties"].pop("$insert_id", None)
    return json.dumps(event, sort_keys=True)


def test_heap_and_amplitude_together_reach_the_loader(tmp_path: Path) -> None:
    project, archive = project_with_export(tmp_path / "project")
    project.generate_heap(events=2000)
    project.dbt("build", vars={"amplitude_enabled": True, "amplitude_export_path": str(archive)})
    assert {s for (s,) in project.query("select distinct source_name from posthog_events")} == {
        "heap",
        "amplitude",
    }
    bodies = tmp_path / "bodies"
    result = subprocess.run(
        [str(BIN / "load-posthog"), "--dry-run", "--dry-run-dir", str(bodies), "--project-dir", str(project.root)],
        cwd=project.root, env=project.env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    sent = [
        e["uuid"]
        for body in sorted(bodies.rglob("*.json"))
        for e in json.loads(body.read_text())["batch"]
    ]
    expected = [
        u
        for (u,) in project.query(
            "select uuid from posthog_aliases union all select uuid from posthog_persons"
            " union all select uuid from posthog_events"
        )
    ]
    assert sorted(sent) == sorted(expected)
    assert len(sent) == len(set(sent))


def test_amplitudes_s3_export_gives_the_same_events(built, tmp_path: Path) -> None:
    """Amplitude's Amazon S3 export: the same hourly files under s3://bucket/prefix/<project_id>/, beside the
    `_complete` markers Amplitude writes, read through a local S3 server the way a user's bucket is."""
    zipped, _ = built
    expected = dict(zipped.query("select uuid, payload from posthog_events"))
    project, archive = project_with_export(tmp_path / "project")
    exported = tmp_path / "s3_export"
    with zipfile.ZipFile(archive) as archive_file:
        archive_file.extractall(exported)
    for day_folder in exported.iterdir():
        (day_folder / "_complete").write_text("")
    with S3Server() as server:
        server.upload_folder(exported, "amplitude-export-bucket", prefix="exports/prod")
        project.env |= server.env()
        project.dbt(
            "build",
            vars={
                **EXPORT_VARS,
                "amplitude_export_path": "s3://amplitude-export-bucket/exports/prod/",
            },
        )
    assert dict(project.query("select uuid, payload from posthog_events")) == expected
    (files,) = project.query("select count(*) from base_amplitude__export_files")[0]
    assert files == len(zipfile.ZipFile(archive).namelist())
