"""Hostile source shapes through the real `dbt build`: the build never fails, nothing is lost, and nothing from a
source takes a meaning PostHog gives its own names.

One project holds the Heap and Amplitude samples plus the hostile rows (a Heap table with odd identifiers and
columns named like PostHog's own, Amplitude lines with such keys); the expectations are written out here, not
read back from the models.
"""

from __future__ import annotations

import gzip
import json
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from support.dbt_project import DbtProject

HEAP = "heap_main_production"
# Upper case, a space and non-ASCII letters: discovered, quoted, and named in lower case.
ODD_TABLE = "Checkout Ünïcode"
ODD_EVENT = "checkout ünïcode"
# column -> (SQL value, the property it must become, the value it must carry)
ODD_COLUMNS: dict[str, tuple[str, str, Any]] = {
    'say "hi"': ("'quoted'", 'say "hi"', "quoted"),
    "back\\slash": ("'slashed'", "back\\slash", "slashed"),
    "plan type": ("'pro'", "plan type", "pro"),
    "Größe": ("42", "größe", 42),
    "Tier": ("'gold'", "tier", "gold"),
    "$revenue": ("9.5", "$revenue", 9.5),
    # names PostHog reserves, or that the project sets itself, keep their value under heap_<name>
    "$session_id": ("'sess-from-heap'", "heap_$session_id", "sess-from-heap"),
    "$set": ('\'{"email": "evil@x.io"}\'', "heap_$set", '{"email": "evil@x.io"}'),
    "$set_once": ("'once'", "heap_$set_once", "once"),
    "distinct_id": ("'someone-else'", "heap_distinct_id", "someone-else"),
    "$geoip_disable": ("false", "heap_$geoip_disable", False),
    "uuid": ("'not-the-uuid'", "heap_uuid", "not-the-uuid"),
    "event": ("'not-the-event'", "heap_event", "not-the-event"),
    "timestamp": ("'not-the-time'", "heap_timestamp", "not-the-time"),
    "$current_url": (
        "'https://elsewhere.example'",
        "heap_$current_url",
        "https://elsewhere.example",
    ),
    "$lib": ("'not-the-library'", "heap_$lib", "not-the-library"),
    # the prefixed name is taken by a column of its own: the renamed one is prefixed again
    "token": ("'tok-1'", "heap_heap_token", "tok-1"),
    "heap_token": ("'tok-2'", "heap_token", "tok-2"),
    # seed rows decide for these (SEED_ROWS below)
    "$groups": ('\'{"company": "acme"}\'', "heap_groups_raw", '{"company": "acme"}'),
    "api_key": ("'secret-looking'", None, None),
}
HEAP_SEED_ROWS = [
    '$groups,heap_groups_raw,value,"Kept under a plain name (test)."',
    'api_key,,drop,"Dropped (test)."',
]
# keys of Amplitude event_properties -> the property they must become (None: dropped by a seed row)
AMPLITUDE_KEYS: dict[str, str | None] = {
    "$set": "amplitude_$set",
    "$set_once": "amplitude_$set_once",
    "$session_id": "amplitude_$session_id",
    "$groups": "amplitude_$groups",
    "distinct_id": "amplitude_distinct_id",
    "token": None,
    'say "hi"': 'say "hi"',
    "plan": "plan",
}
AMPLITUDE_SEED_ROWS = ['token,,"Dropped (test)."']
RESERVED = {
    "$set", "$set_once", "$unset", "$groups", "distinct_id", "$distinct_id", "token", "$token", "api_key",
    "$anon_distinct_id", "$process_person_profile", "$cookieless_mode", "$ignore_sent_at", "uuid", "event",
    "timestamp", "alias",
}  # fmt: skip


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    counts = Counter(key for key, _ in pairs)
    duplicated = [key for key, count in counts.items() if count > 1]
    assert not duplicated, f"duplicate keys {duplicated} in one JSON object"
    return dict(pairs)


def parse(payload: str) -> dict[str, Any]:
    return json.loads(payload, object_pairs_hook=unique_keys)


def amplitude_line(template: dict, index: int, **changes: Any) -> bytes:
    line = {
        **template,
        "uuid": f"00000000-0000-4000-8000-{index:012d}",
        "$insert_id": f"hostile-{index}",
        "event_id": 900_000 + index,
        "event_type": "Hostile Event",
        "user_id": f"hostile-user-{index}",
        "groups": {},
        "event_properties": {},
        "user_properties": {},
        **changes,
    }
    return json.dumps(line).encode()


def add_amplitude_lines(archive: Path, lines: list[bytes]) -> None:
    with zipfile.ZipFile(archive, "a") as zipped:
        zipped.writestr(
            "609539/609539_2026-06-30_23#hostile.json.gz", gzip.compress(b"\n".join(lines) + b"\n")
        )


def quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def first_export_line(archive: Path) -> dict:
    with zipfile.ZipFile(archive) as zipped:
        member = sorted(zipped.namelist())[0]
        return json.loads(gzip.decompress(zipped.read(member)).splitlines()[0])


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    project = DbtProject.copy_of_repo(tmp_path_factory.mktemp("hostile") / "project")
    project.generate_heap(events=2000)
    archive = project.root / "exports" / "amplitude.zip"
    project.run_sample("amplitude", "--events", "1500", "--export-zip", str(archive))
    template = first_export_line(archive)
    add_amplitude_lines(
        archive,
        [
            amplitude_line(
                template, 1,
                event_properties={key: f"value of {key}" for key in AMPLITUDE_KEYS},
                user_properties={"$set": {"email": "evil@x.io"}, "distinct_id": "bob", "plan": "pro"},
            ),
        ],
    )  # fmt: skip
    with (project.root / "seeds/mappings/heap_event_property_map.csv").open("a") as seed:
        seed.write("\n".join(HEAP_SEED_ROWS) + "\n")
    with (project.root / "seeds/mappings/amplitude_event_property_map.csv").open("a") as seed:
        seed.write("\n".join(AMPLITUDE_SEED_ROWS) + "\n")
    columns = ", ".join(f"{sql} as {quoted(name)}" for name, (sql, _, _) in ODD_COLUMNS.items())
    project.execute(
        f'create table {HEAP}."{ODD_TABLE}" as select event_id, user_id, session_id, time, library, {columns} '
        f"from {HEAP}.pageviews where event_id is not null and user_id is not null and time is not null "
        f"and time < now() limit 30"
    )
    project.execute(
        f'alter table {HEAP}.users add column "$set" varchar default \'{{"plan": "evil"}}\';'
        f"alter table {HEAP}.users add column \"distinct_id\" varchar default 'someone-else'"
    )
    project.dbt("build", vars={"amplitude_enabled": True, "amplitude_export_path": str(archive)})
    return project


def test_the_build_accounts_for_every_row(built: DbtProject) -> None:
    rows = built.query(
        "select source_name, source_table, source_rows, emitted_rows + quarantined_rows + skipped_rows,"
        " unaccounted_rows, emitted_rows_missing from posthog_reconciliation"
    )
    assert {(source, table) for source, table, *_ in rows} >= {
        ("heap", ODD_EVENT),
        ("amplitude", "export"),
    }
    for source, table, source_rows, accounted, unaccounted, missing in rows:
        assert (accounted, unaccounted, missing) == (source_rows, 0, 0), (source, table)


def test_no_payload_holds_a_key_twice(built: DbtProject) -> None:
    for view in ("posthog_events", "posthog_persons", "posthog_aliases"):
        for (payload,) in built.query(f"select payload from {view}"):
            parse(payload)


def test_odd_heap_identifiers_become_properties_under_their_own_names(built: DbtProject) -> None:
    events = [
        parse(p)
        for (p,) in built.query(
            f"select payload from posthog_events where source_table = '{ODD_EVENT}'"
        )
    ]
    assert len(events) == 30
    for event in events:
        assert event["event"] == ODD_EVENT
        properties = event["properties"]
        for _, (_, name, value) in ODD_COLUMNS.items():
            if name is not None:
                assert properties[name] == value, name
        assert "api_key" not in properties
        assert properties["$geoip_disable"] is True
        assert properties["$lib"] != "not-the-library"
        assert properties.get("$session_id", "").count("-") in (
            0,
            4,
        )  # the derived UUIDv7, or absent
        assert properties.get("$current_url") != "https://elsewhere.example"


def test_no_source_property_takes_a_reserved_name(built: DbtProject) -> None:
    for source, payload in built.query("select source_name, payload from posthog_events"):
        # (Amplitude's own `groups` field is what becomes $groups)
        reserved = RESERVED - {"$groups"} if source == "amplitude" else RESERVED
        assert not (set(parse(payload)["properties"]) & reserved)
    for (payload,) in built.query("select payload from posthog_persons"):
        properties = parse(payload)["properties"]
        assert set(properties) == {"$set", "$set_once", "$geoip_disable"}
        assert not (set(properties["$set"]) & RESERVED)
        assert not (set(properties["$set_once"]) & RESERVED)


def test_heap_person_columns_named_like_posthog_fields_are_renamed(built: DbtProject) -> None:
    persons = [parse(p)["properties"]["$set"] for (p,) in built.query(
        "select payload from posthog_persons where source_name = 'heap'")]  # fmt: skip
    assert persons
    for person in persons:
        assert person["heap_$set"] == '{"plan": "evil"}'
        assert person["heap_distinct_id"] == "someone-else"


def test_amplitude_keys_named_like_posthog_fields_are_renamed_or_dropped(built: DbtProject) -> None:
    (payload,) = built.query(
        "select payload from posthog_events where source_row_id = 'hostile-1'"
    )[0]
    properties = parse(payload)["properties"]
    for key, target in AMPLITUDE_KEYS.items():
        if target is None:
            assert key not in properties
        else:
            assert properties[target] == f"value of {key}", key
    assert properties["$session_id"] != "value of $session_id"
    ((person,),) = built.query(
        "select set_properties from posthog_persons where distinct_id = 'hostile-user-1'"
    )
    assert parse(person) == {
        "amplitude_$set": {"email": "evil@x.io"},
        "amplitude_distinct_id": "bob",
        "plan": "pro",
    }
