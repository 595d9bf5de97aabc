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

import duckdb
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
AMPLITUDE_SEED_ROWS = ['token,,false,"Dropped (test)."']
LIMIT = 1_000_000  # PostHog's per-event limit, in UTF-8 bytes of the payload (MAX_EVENT_BYTES)
SIZE_USER = 777
NUMBER_CASES = {  # event_id -> (ratio DOUBLE, data JSON, the property PostHog would refuse, or None)
    1: ("1.5", '{"a": 1.5, "b": 1e-999, "c": "1e999 in a string"}', None),
    2: ("'nan'", '{"a": 1}', "ratio"),
    3: ("'-inf'", '{"a": 1}', "ratio"),
    4: ("2.0", '{"a": [1, 1e999]}', "data"),
    5: ("2.0", '{"max": 1.7976931348623157e308}', None),
    6: ("2.0", '{"over": 1.8e308}', "data"),
}
BEFORE_1970 = "time before 1970-01-01, which PostHog cannot store"
# Heap users with a large `bio`: user_id -> (bio, quarantined as too large); 'é' is 2 bytes, a newline 2 escaped
PERSON_SIZE_CASES = {
    9004: ("é" * 450_000, False),
    9005: ("x" * LIMIT, True),
    9006: ("\n" * 500_001, True),
}
TIME_CASES = {  # event_id -> (time, reason or None)
    1: ("1969-12-31 23:59:59.999999", BEFORE_1970),
    2: ("1970-01-01 00:00:00", None),
    3: ("0001-01-01 00:00:00", BEFORE_1970),
    4: ("2150-01-01 00:00:00", "time after 2149-06-06, which PostHog cannot store"),
}
REFUSED_NUMBER = "holds a number PostHog refuses (NaN, Infinity or beyond ±1.8e308)"
REFUSED_IN_PROPERTIES = (
    "properties hold a number PostHog refuses (NaN, Infinity or beyond ±1.8e308)"
)
TOO_LARGE = "payload is over PostHog's 1,000,000-byte event limit"
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


def add_amplitude_lines(archive: Path, member: str, lines: list[bytes]) -> None:
    with zipfile.ZipFile(archive, "a") as zipped:
        zipped.writestr(member, gzip.compress(b"\n".join(lines) + b"\n"))


def size_payload(event_id: int, pad: str) -> bytes:
    """The payload of a row of the `sizes` table (no url, no session), as the models must write it."""
    properties = {
        "$geoip_disable": True, "$heap_event_id": str(event_id), "$heap_user_id": str(SIZE_USER), "pad": pad,
    }  # fmt: skip
    event = {
        "uuid": "0" * 36, "event": "sizes", "distinct_id": str(SIZE_USER),
        "timestamp": "2024-05-01T00:00:00.000000+00:00", "properties": properties,
    }  # fmt: skip
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()


def pad_to(event_id: int, target: int, unit: str) -> str:
    """A pad of `unit`s (and ASCII) that makes the payload exactly `target` bytes."""
    base = len(size_payload(event_id, ""))
    per_unit = len(size_payload(event_id, unit)) - base
    units, rest = divmod(target - base, per_unit)
    pad = unit * units + "x" * rest
    assert len(size_payload(event_id, pad)) == target
    return pad


# event_id -> (pad of the `sizes` table, bytes of the payload it makes; over LIMIT is quarantined)
SIZE_CASES = {
    event_id: (pad_to(event_id, target, unit), target)
    for event_id, (target, unit) in enumerate(
        [(LIMIT, "x"), (LIMIT + 1, "x"), (LIMIT + 1, "é"), (LIMIT + 1, "\n"), (LIMIT - 1, "\n")],
        start=1,
    )
}
# Amplitude lines: insert id -> (changes to the line, raw JSON replacing the "RAW" marker, reason or None)
AMPLITUDE_CASES: dict[str, tuple[dict[str, Any], str | None, str | None]] = {
    "hostile-2": (
        {"event_time": "1969-07-20 20:17:40.000000", "client_event_time": None},
        None,
        BEFORE_1970,
    ),
    "hostile-3": ({"event_time": "0001-01-01 00:00:00.000000"}, None, BEFORE_1970),
    "hostile-4": (
        {"event_properties": {"n": "RAW"}},
        "1e999",
        REFUSED_IN_PROPERTIES,
    ),
    "hostile-5": (
        {"event_properties": {"n": "RAW"}},
        "NaN",
        REFUSED_IN_PROPERTIES,
    ),
    "hostile-6": (
        {"location_lat": "RAW"},
        "1e999",
        REFUSED_IN_PROPERTIES,
    ),
    "hostile-7": ({"event_properties": {"big": "x" * (LIMIT + 100)}}, None, TOO_LARGE),
    # a fine event whose user properties PostHog would refuse: the event goes, the person does not
    "hostile-8": ({"user_properties": {"score": "RAW"}}, "-1e999", None),
    # a session start beyond what a UUIDv7 (and PostHog) can carry: the event goes without $session_id
    "hostile-9": ({"session_id": 9_000_000_000_000_000}, None, None),
}


BROKEN_FILE = "609539/609539_2026-06-30_22#broken.json.gz"


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
        "609539/609539_2026-06-30_23#hostile.json.gz",
        [
            amplitude_line(
                template, 1,
                event_properties={key: f"value of {key}" for key in AMPLITUDE_KEYS},
                user_properties={"$set": {"email": "evil@x.io"}, "distinct_id": "bob", "plan": "pro"},
            ),
            *(
                amplitude_line(template, int(key.split("-")[1]), **changes).replace(b'"RAW"', (raw or "").encode())
                for key, (changes, raw, _) in AMPLITUDE_CASES.items()
            ),
        ],
    )  # fmt: skip
    # bytes that are not UTF-8 (a lone 0xff; an encoded surrogate) in lines 2 and 4 of a file
    add_amplitude_lines(
        archive,
        BROKEN_FILE,
        [
            amplitude_line(template, 20),
            amplitude_line(template, 21).replace(b"Hostile Event", b"Hostile \xff Event"),
            amplitude_line(template, 22),
            amplitude_line(template, 23, event_properties={"text": "SURROGATE"}).replace(
                b"SURROGATE", b"\xed\xa0\x80"
            ),
        ],
    )
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
    add_refused_heap_rows(project)
    project.dbt("build", vars={"amplitude_enabled": True, "amplitude_export_path": str(archive)})
    return project


def add_refused_heap_rows(project: DbtProject) -> None:
    """Tables whose rows PostHog would refuse or could not store, beside rows just inside the limits."""
    with duckdb.connect(str(project.duckdb_path)) as con:
        con.execute(
            f"create table {HEAP}.sizes (event_id bigint, user_id bigint, time timestamp, pad varchar)"
        )
        con.executemany(
            f"insert into {HEAP}.sizes values (?, {SIZE_USER}, '2024-05-01', ?)",
            [(event_id, pad) for event_id, (pad, _) in SIZE_CASES.items()],
        )
    numbers = " union all ".join(
        f"select {event_id} as event_id, 778 as user_id, timestamp '2024-05-01' as time, "
        f"cast({ratio} as double) as ratio, cast('{data}' as json) as data"
        for event_id, (ratio, data, _) in NUMBER_CASES.items()
    )
    times = " union all ".join(
        f"select {event_id} as event_id, 779 as user_id, timestamp '{time}' as time"
        for event_id, (time, _) in TIME_CASES.items()
    )
    project.execute(
        f"create table {HEAP}.numbers as {numbers};"
        f"create table {HEAP}.times as {times};"
        # a person whose last change is in year 1 goes at its join; one with no storable time, or a NaN, is refused
        f"insert into {HEAP}.users (user_id, identity, joindate, last_modified) values"
        f" (9001, 'first-of-time', '2024-01-01', '0001-01-01'), (9002, null, '1900-01-01', '0001-01-01');"
        f"insert into {HEAP}.users (user_id, joindate, lifetime_value) values (9003, '2024-01-01', 'nan');"
        f"alter table {HEAP}.users add column bio varchar"
    )
    with duckdb.connect(str(project.duckdb_path)) as con:
        con.executemany(
            f"insert into {HEAP}.users (user_id, identity, joindate, bio) values (?, ?, '2024-01-01', ?)",
            [(user_id, f"big-{user_id}", bio) for user_id, (bio, _) in PERSON_SIZE_CASES.items()],
        )


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
        # a table that holds no events (Heap's _sync_history) has a row with its role and no count
        expected = (source_rows or 0, 0, 0)
        assert (accounted, unaccounted, missing) == expected, (source, table)


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
    for (payload,) in built.query("select payload from posthog_persons where event = '$set'"):
        properties = parse(payload)["properties"]
        assert set(properties) == {"$set", "$set_once", "$geoip_disable"}
        assert not (set(properties["$set"]) & RESERVED)
        assert not (set(properties["$set_once"]) & RESERVED)


def test_the_mapping_plan_shows_each_rename_as_sent(built: DbtProject) -> None:
    """int_mapping__plan comes from the same decisions as the SQL, renames and seed rows included."""
    plan = dict(
        built.query(
            "select source_column, posthog_property from int_mapping__plan where source_table = ?",
            [ODD_EVENT],
        )
    )
    for column, (_, property_name, _) in ODD_COLUMNS.items():
        assert plan[column.lower()] == property_name, column


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
    # (besides the place its events were seen in, which persons carry as $geoip_*)
    assert {k: v for k, v in parse(person).items() if not k.startswith("$geoip_")} == {
        "amplitude_$set": {"email": "evil@x.io"},
        "amplitude_distinct_id": "bob",
        "plan": "pro",
    }


# ---------- what PostHog would refuse or could not store is quarantined where the row is built


def quarantined(project: DbtProject, source_table: str) -> dict[str, str]:
    return dict(
        project.query(
            "select source_row_id, reason from posthog_quarantine where source_table = ?",
            [source_table],
        )
    )


def contract(project: DbtProject, column: str, source_table: str) -> dict[str, Any]:
    return dict(
        project.query(
            f"select source_row_id, {column} from posthog_events where source_table = ?",
            [source_table],
        )
    )


def test_payloads_over_the_limit_are_quarantined_to_the_byte(built: DbtProject) -> None:
    sent, refused = contract(built, "payload", "sizes"), quarantined(built, "sizes")
    for event_id, (pad, size) in SIZE_CASES.items():
        if size <= LIMIT:
            payload = sent[str(event_id)].encode()
            assert len(payload) == size
            assert parse(payload.decode())["properties"]["pad"] == pad
        else:
            assert refused[str(event_id)] == TOO_LARGE, event_id
    assert len(sent) + len(refused) == len(SIZE_CASES)


def test_persons_over_the_limit_are_quarantined_measured_to_the_byte(built: DbtProject) -> None:
    refused = quarantined(built, "users")
    measured = {
        int(user_id): (set_bytes, set_length, set_once_bytes, set_once_length)
        for user_id, set_bytes, set_length, set_once_bytes, set_once_length in built.query(
            "select user_id, set_properties_bytes, strlen(set_properties), set_once_properties_bytes,"
            " strlen(set_once_properties) from stg_heap__users where user_id in ('9004', '9005', '9006')"
        )
    }
    for user_id, (_, too_large) in PERSON_SIZE_CASES.items():
        set_bytes, set_length, set_once_bytes, set_once_length = measured[user_id]
        assert (set_bytes, set_once_bytes) == (set_length, set_once_length), user_id
        assert (refused.get(str(user_id)) == TOO_LARGE) is too_large, user_id
    ((payload, distinct_id),) = built.query(
        "select payload, distinct_id from posthog_persons where source_user_id = '9004'"
    )
    assert parse(payload)["properties"]["$set"]["bio"] == PERSON_SIZE_CASES[9004][0]
    set_bytes, _, set_once_bytes, _ = measured[9004]
    # the payload is exactly what the quarantine decision measured: 132 fixed bytes, the two names, the wrapper
    wrapper = len('{"$set":,"$set_once":,"$geoip_disable":true}')
    assert len(payload.encode()) == (
        132 + len('"$set"') + len(json.dumps(distinct_id)) + wrapper + set_bytes + set_once_bytes
    )


def test_numbers_posthog_refuses_are_quarantined_naming_the_property(built: DbtProject) -> None:
    sent, refused = contract(built, "payload", "numbers"), quarantined(built, "numbers")
    for event_id, (_, _, property_name) in NUMBER_CASES.items():
        if property_name is None:
            parse(sent[str(event_id)])
        else:
            assert refused[str(event_id)] == f"property {property_name} {REFUSED_NUMBER}"


def test_times_posthog_cannot_store_are_quarantined(built: DbtProject) -> None:
    sent, refused = contract(built, "timestamp", "times"), quarantined(built, "times")
    for event_id, (time, reason) in TIME_CASES.items():
        if reason is None:
            assert str(sent[str(event_id)]) == time
        else:
            assert refused[str(event_id)] == reason


def test_persons_go_at_a_storable_time_or_are_quarantined(built: DbtProject) -> None:
    persons = dict(
        built.query(
            "select source_user_id, timestamp from posthog_persons where source_name = 'heap'"
        )
    )
    assert str(persons["9001"]) == "2024-01-01 00:00:00"
    refused = quarantined(built, "users")
    assert refused["9002"] == (
        "joindate and last_modified are times PostHog cannot store (before 1970-01-01 or after 2149-06-06)"
    )
    assert refused["9003"] == f"property lifetime_value {REFUSED_NUMBER}"
    aliases = dict(built.query("select alias, timestamp from posthog_aliases"))
    assert str(aliases["9001"]) == "2024-01-01 00:00:00"


def test_every_contract_row_passes_the_loaders_own_checks(
    built: DbtProject, tmp_path: Path
) -> None:
    """The loader's second line (its checks before sending) finds nothing left to refuse."""
    sent, expected = built.dry_run_uuids(tmp_path / "bodies")
    assert sent == expected


def test_amplitude_lines_posthog_would_refuse_are_quarantined(built: DbtProject) -> None:
    refused = quarantined(built, "export")
    sent = dict(
        built.query(
            "select source_row_id, payload from posthog_events where source_name = 'amplitude'"
        )
    )
    for insert_id, (_, _, reason) in AMPLITUDE_CASES.items():
        if reason is None:
            parse(sent[insert_id])
        else:
            assert refused[insert_id] == reason, insert_id
    assert "$session_id" not in parse(sent["hostile-9"])["properties"]
    assert quarantined(built, "user_properties") == {"hostile-user-8": REFUSED_IN_PROPERTIES}
    assert not built.query("select 1 from posthog_persons where distinct_id = 'hostile-user-8'")


def test_lines_that_are_not_utf8_are_quarantined_with_file_and_line(built: DbtProject) -> None:
    refused = quarantined(built, "export")
    assert {
        row_id: reason
        for row_id, reason in refused.items()
        if (row_id or "").startswith(BROKEN_FILE)
    } == {
        f"{BROKEN_FILE}:2": "not valid UTF-8",
        f"{BROKEN_FILE}:4": "not valid UTF-8",
    }
    sent = {row_id for (row_id,) in built.query("select source_row_id from posthog_events")}
    assert {"hostile-20", "hostile-22"} <= sent
