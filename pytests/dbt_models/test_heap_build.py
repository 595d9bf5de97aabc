"""The Heap sample through the real `dbt build`, checked against independent Python re-implementations of the rules.

Each expectation below is computed from the raw Heap tables in Python, not read back from the models.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import uuid
from pathlib import Path

import pytest

from support.dbt_project import DbtProject
from support.uuids import md5_uuid

HEAP = "heap_main_production"
NON_EVENT_TABLES = {"users", "all_events", "user_migrations"}
# Heap Connect's bookkeeping; every other table is an event table, whatever its name starts with
METADATA_TABLES = {"_sync_info", "_sync_history", "_event_metadata", "_dropped_tables"}
ILLEGAL_IDS = {
    "anonymous", "guest", "distinctid", "distinct_id", "id", "not_authenticated", "email", "undefined", "true",
    "false", "[object object]", "nan", "none", "null", "0", "00000000-0000-0000-0000-000000000000",
    "anonymous-user", "backend", "system", "user",
}  # fmt: skip
UTC = dt.UTC


# ---------- independent reference implementations of the rules


def legal(candidate: str | None) -> bool:
    if candidate is None or candidate.strip() == "":
        return False
    return candidate.strip().strip("\"'").lower() not in ILLEGAL_IDS and len(candidate) <= 200


def resolve_final_users(migrations: list[tuple[str, str, dt.datetime]]) -> dict[str, str]:
    """Follow each user's latest migration to its end; members of a cycle go to the cycle's smallest id."""
    nxt: dict[str, str] = {}
    # latest migration first, ties to the smallest target, as the SQL ranks them
    for source, target, _ in sorted(migrations, key=lambda m: (m[0], -m[2].timestamp(), m[1])):
        if source != target:
            nxt.setdefault(source, target)
    final: dict[str, str] = {}
    for start, first in nxt.items():
        path, current = [start], first
        while current in nxt and current not in path:
            path.append(current)
            current = nxt[current]
        if current not in nxt:
            final[start] = current
        else:  # entered a cycle at `current`
            cycle, node = [current], nxt[current]
            while node != current:
                cycle.append(node)
                node = nxt[node]
            final[start] = min(cycle)
    return final


def split_platform(platform: str | None) -> tuple[str | None, str | None]:
    if platform is None:
        return None, None
    match = re.search(r" ([0-9][0-9A-Za-z._-]*)$", platform)
    version = match.group(1) if match else None
    name = (platform[: -len(version)] if version else platform).strip()
    return name or None, version


def rebuild_url(host, path, query, fragment) -> str | None:
    if not host:
        return None

    def part(value, prefix):
        if not value:
            return ""
        return value if value.startswith(prefix) else prefix + value

    base = host if host.lower().startswith(("http://", "https://")) else "https://" + host
    return base + part(path, "/") + part(query, "?") + part(fragment, "#")


def utc(value: dt.datetime) -> dt.datetime:
    """A source time as naive UTC: zoned columns (timestamptz) come back in this process's time zone."""
    return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)


def iso(value: dt.datetime) -> str:
    return utc(value).strftime("%Y-%m-%dT%H:%M:%S.%f") + "+00:00"


def epoch_ms(value: dt.datetime) -> int:
    """Milliseconds since the epoch, sub-millisecond digits truncated (exact integer arithmetic)."""
    return (utc(value) - dt.datetime(1970, 1, 1)) // dt.timedelta(milliseconds=1)


# ---------- fixtures


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    project = DbtProject.copy_of_repo(tmp_path_factory.mktemp("heap") / "project")
    project.generate_heap(events=20_000)
    project.dbt("build")
    return project


def rows_as_dicts(project: DbtProject, sql: str) -> list[dict]:
    import duckdb

    with duckdb.connect(str(project.duckdb_path), read_only=True) as con:
        cursor = con.execute(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def schema_tables(project: DbtProject, schema: str = HEAP) -> dict[str, str]:
    """Every table and view of the schema, with its type (BASE TABLE or VIEW)."""
    return dict(
        project.query(
            "select table_name, table_type from information_schema.tables where table_schema = ?",
            [schema],
        )
    )


def event_tables(project: DbtProject) -> list[str]:
    """Heap's rule: every table but the people/identity tables, Heap's metadata, and `<name>_raw` under a view."""
    tables = schema_tables(project)
    views = {name for name, kind in tables.items() if kind == "VIEW"}
    return sorted(
        name
        for name in tables
        if name not in NON_EVENT_TABLES | METADATA_TABLES
        and not (name.endswith("_raw") and name.removesuffix("_raw") in views)
    )


def payloads(project: DbtProject, where: str = "true") -> dict[tuple[str, str], dict]:
    rows = project.query(
        f"select source_table, source_row_id, payload from posthog_events where {where}"
    )
    return {(table, row_id): json.loads(payload) for table, row_id, payload in rows}


def final_distinct_ids(project: DbtProject) -> dict[str, str | None]:
    users = {
        str(r["user_id"]): r["identity"]
        for r in rows_as_dicts(project, f"select user_id, identity from {HEAP}.users")
    }
    migrations = [
        (str(f), str(t), at)
        for f, t, at in project.query(
            f"select from_user_id, to_user_id, time from {HEAP}.user_migrations"
        )
    ]
    final = resolve_final_users(migrations)
    every_id = set(users) | {m[0] for m in migrations} | {m[1] for m in migrations}
    result = {}
    for user_id in every_id:
        final_id = final.get(user_id, user_id)
        identity = users.get(final_id)
        result[user_id] = identity if legal(identity) else (final_id if legal(final_id) else None)
    return result


# ---------- the rules


def test_every_source_row_is_emitted_quarantined_or_skipped(built: DbtProject) -> None:
    tables = event_tables(built)
    assert "_key_events_pm__plp_visit_collection" in tables, "a `_` name is an event table"
    assert "report_export_raw" in tables, "a `_raw` name beside a table is an event table"
    source_counts = {
        t: built.query(f'select count(*) from {HEAP}."{t}"')[0][0]
        for t in [*tables, "users", "user_migrations"]
    }
    reconciliation = {
        row["source_table"]: row
        for row in rows_as_dicts(built, "select * from posthog.posthog_reconciliation")
    }
    for table, count in source_counts.items():
        row = reconciliation[table]
        assert row["source_rows"] == count
        assert row["emitted_rows"] + row["quarantined_rows"] + row["skipped_rows"] == count, table
        assert row["table_role"] == {"users": "persons", "user_migrations": "identity"}.get(
            table, "events"
        )
    assert reconciliation["sessions"]["skipped_rows"] == source_counts["sessions"]
    emitted = dict(built.query("select source_table, count(*) from posthog_events group by 1"))
    assert emitted == {
        t: r["emitted_rows"]
        for t, r in reconciliation.items()
        if r["emitted_rows"] and r["table_role"] == "events"
    }


def test_every_table_of_the_schema_has_a_reconciliation_row(built: DbtProject) -> None:
    roles = dict(
        built.query(
            "select source_table, table_role from posthog_reconciliation where source_name = 'heap'"
        )
    )
    assert set(roles) == set(schema_tables(built))
    assert {t for t, role in roles.items() if role == "sync metadata"} == {
        "_sync_info",
        "_sync_history",
    }
    assert roles["all_events"] == "event index"
    not_read = built.query(
        "select count(*) from posthog_reconciliation where table_role in ('sync metadata', 'event index')"
        " and (source_rows is not null or emitted_rows != 0 or role_note is null)"
    )[0][0]
    assert not_read == 0


def test_integer_ids_of_every_integer_type_travel_as_strings(built: DbtProject) -> None:
    types = dict(
        built.query(
            "select table_name || '.' || column_name, data_type from information_schema.columns"
            " where table_schema = ?",
            [HEAP],
        )
    )
    assert types["intercom_events_conversation_was_closed.conversation_id"] == "DECIMAL(38,0)"
    assert types["_key_events_pm__plp_visit_collection.collection_id"] == "HUGEINT"
    assert types["_key_events_pm__plp_visit_collection.event_id"] == "DECIMAL(38,0)"
    sent = payloads(built, "source_table = '_key_events_pm__plp_visit_collection'")
    raw = {
        str(r["event_id"]): r
        for r in rows_as_dicts(built, f"select * from {HEAP}._key_events_pm__plp_visit_collection")
    }
    assert sent
    for (_, event_id), payload in sent.items():
        assert payload["properties"]["collection_id"] == str(raw[event_id]["collection_id"])
        assert (
            payload["properties"]["$heap_event_id"]
            == event_id
            == str(int(raw[event_id]["event_id"]))
        )
        assert payload["uuid"] == md5_uuid(f"heap:_key_events_pm__plp_visit_collection:{event_id}")


def test_uuids_are_md5_of_table_and_event_id_and_unique(built: DbtProject) -> None:
    rows = built.query("select uuid, source_table, source_row_id from posthog_events")
    assert len({u for u, _, _ in rows}) == len(rows)
    for event_uuid, table, event_id in rows:
        assert event_uuid == md5_uuid(f"heap:{table}:{event_id}")
    # a defined event shares its event id with the pageview it was defined on: two events, two uuids
    shared = built.query(
        "select count(*) from posthog_events p join posthog_events d using (source_row_id) "
        "where p.source_table = 'pageviews' and d.source_table = 'viewed_pricing_page' and p.uuid != d.uuid"
    )[0][0]
    assert shared > 0


def test_distinct_ids_follow_migrations_and_never_pass_through_floats(built: DbtProject) -> None:
    expected = final_distinct_ids(built)
    raw = {}
    for table in event_tables(built):
        for event_id, user_id in built.query(
            f'select event_id, user_id from {HEAP}."{table}" where event_id is not null and user_id is not null'
        ):
            raw[(table, str(event_id))] = user_id  # a Python int: exact, whatever its size
    events = built.query("select source_table, source_row_id, distinct_id from posthog_events")
    above_2_53 = 0
    for table, event_id, distinct_id in events:
        user_id = raw[(table, event_id)]
        assert distinct_id == expected.get(str(user_id), str(user_id)), (table, event_id)
        if distinct_id == str(user_id) and user_id > 2**53:
            above_2_53 += 1
    assert above_2_53 > 0, "the sample must exercise user ids above 2^53"
    chains = built.query("select count(*) from int_heap_users__resolved where migration_hops >= 3")[
        0
    ][0]
    assert chains > 0


def test_timestamps_are_iso8601_utc_from_heap_time(built: DbtProject) -> None:
    times = {
        (t, str(e)): time
        for t in event_tables(built)
        for e, time in built.query(
            f'select event_id, time from {HEAP}."{t}" where event_id is not null'
        )
    }
    for key, payload in payloads(built).items():
        assert payload["timestamp"] == iso(times[key])
        assert dt.datetime.fromisoformat(payload["timestamp"]).utcoffset() == dt.timedelta(0)


def test_properties_are_renamed_typed_and_rebuilt(built: DbtProject) -> None:
    sent = payloads(built)
    checked = 0
    for table in event_tables(built):
        for raw in rows_as_dicts(
            built, f'select * from {HEAP}."{table}" where event_id is not null'
        ):
            payload = sent.get((table, str(raw["event_id"])))
            if payload is None:
                continue  # quarantined, skipped or a duplicate: covered by the reconciliation
            props = payload["properties"]
            checked += 1
            assert None not in props.values()
            assert props["$geoip_disable"] is True
            assert props["$heap_event_id"] == str(raw["event_id"])
            assert props["$heap_user_id"] == str(raw["user_id"])
            if "platform" in raw:
                os_name, os_version = split_platform(raw["platform"])
                assert props.get("$os") == os_name
                assert props.get("$os_version") == os_version
            if raw.get("domain"):
                assert props["$current_url"] == rebuild_url(
                    raw["domain"], raw.get("path"), raw.get("query"), raw.get("hash")
                )
            elif raw.get("landing_page"):
                assert props["$current_url"] == rebuild_url(
                    raw["landing_page"],
                    None,
                    raw.get("landing_page_query"),
                    raw.get("landing_page_hash"),
                )
            if raw.get("title") is not None:
                assert (
                    props["title"] == raw["title"]
                )  # quotes, backslashes, newlines, unicode intact
            if table == "checkout_complete_purchase":
                assert isinstance(props["order_total"], float)
                assert isinstance(props["item_count"], int)
                assert isinstance(props["is_first_order"], bool)
            if table == "intercom_events_conversation_was_closed":
                assert props["conversation_id"] == str(
                    raw["conversation_id"]
                )  # an id above 2^53: a string
                assert props["closed_at"] == iso(raw["closed_at"])
            if table == "search_submit_query":
                assert props["search_term"] == raw["search_term"]
    assert checked > 10_000


def test_session_ids_are_uuid7_carrying_the_session_start(built: DbtProject) -> None:
    starts = {
        str(s): t
        for s, t in built.query(f"select session_id, min(time) from {HEAP}.sessions group by 1")
    }
    # a start 0.999 ms past its millisecond: truncated (as Snowflake and BigQuery do), never rounded up
    assert any(utc(start).microsecond % 1000 == 999 for start in starts.values())
    seen = 0
    for payload in payloads(built).values():
        props = payload["properties"]
        heap_session = props.get("$heap_session_id")
        if heap_session not in starts:
            continue
        session_uuid = uuid.UUID(props["$session_id"])
        assert session_uuid.version == 7
        start_ms = epoch_ms(starts[heap_session])
        assert session_uuid.int >> 80 == start_ms
        assert str(session_uuid) == md5_uuid_v7(start_ms, f"heap:session:{heap_session}")
        seen += 1
    assert seen > 10_000


def md5_uuid_v7(ms: int, key: str) -> str:
    raw = bytearray(ms.to_bytes(6, "big") + hashlib.md5(key.encode()).digest()[:10])
    raw[6] = (raw[6] & 0x0F) | 0x70
    raw[8] = (raw[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(raw)))


def test_rows_that_cannot_be_events_are_quarantined_with_reasons(built: DbtProject) -> None:
    reasons = dict(built.query("select reason, count(*) from posthog_quarantine group by 1"))
    assert set(reasons) == {
        "no user_id, so no person",
        "no time",
        "no event_id, so no stable uuid",
        "time more than 23 hours in the future: PostHog would move it to the load time",
    }
    bad = sum(
        built.query(
            f'select count(*) from {HEAP}."{t}" where event_id is null or user_id is null or time is null '
            f"or time::timestamp > now()::timestamp + interval 23 hour"
        )[0][0]
        for t in event_tables(built)
        if t != "sessions"
    )
    assert sum(reasons.values()) == bad
    leaked = built.query(
        "select count(*) from posthog_events where timestamp > now()::timestamp + interval 23 hour"
    )[0][0]
    assert leaked == 0


def test_persons_are_final_users_with_set_and_set_once(built: DbtProject) -> None:
    migrations = [
        (str(f), str(t), at)
        for f, t, at in built.query(
            f"select from_user_id, to_user_id, time from {HEAP}.user_migrations"
        )
    ]
    final = resolve_final_users(migrations)
    users = rows_as_dicts(built, f"select * from {HEAP}.users")
    expected = {
        str(u["user_id"])
        for u in users
        if final.get(str(u["user_id"]), str(u["user_id"])) == str(u["user_id"])
    }
    persons = {
        r["source_user_id"]: json.loads(r["payload"])
        for r in rows_as_dicts(built, "select source_user_id, payload from posthog.posthog_persons")
    }
    assert set(persons) == expected
    by_id = {str(u["user_id"]): u for u in users}
    for user_id, payload in persons.items():
        raw = by_id[user_id]
        props = payload["properties"]
        assert payload["event"] == "$set"
        assert "Invalid date" not in json.dumps(props)
        assert props["$set"]["joindate"] == iso(raw["joindate"])
        if raw["initial_platform"]:
            os_name, os_version = split_platform(raw["initial_platform"])
            assert props["$set_once"].get("$initial_os") == os_name
            assert props["$set_once"].get("$initial_os_version") == os_version
        if raw["seats"] is not None:
            assert props["$set"]["seats"] == raw["seats"]


MOBILE_LIBRARIES = {"ios", "android", "react-native", "react_native", "flutter"}
REFERRING_DOMAIN = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://([^/?#]+)")
CONTEXT = (
    "library, platform, device_type, browser, referrer, utm_source, utm_medium, utm_campaign, utm_term,"
    " utm_content, country, region, city"
)


def test_mobile_pageviews_are_screens_with_their_screen_name(built: DbtProject) -> None:
    sent = payloads(built, "source_table = 'pageviews'")
    kinds = set()
    for raw in rows_as_dicts(built, f"select * from {HEAP}.pageviews where event_id is not null"):
        payload = sent.get(("pageviews", str(raw["event_id"])))
        if payload is None:
            continue
        if (raw["library"] or "").lower() in MOBILE_LIBRARIES:
            assert payload["event"] == "$screen"
            assert payload["properties"].get("$screen_name") == raw["view_controller"]
            kinds.add(raw["library"])
        else:
            assert payload["event"] == "$pageview"
    assert kinds == {"ios", "android"}


def touches_of_final_users(project: DbtProject) -> dict[str, list[dict]]:
    """Every pageview and session of each final user, as int_heap_users__touched reads them."""
    final = resolve_final_users(
        [
            (str(f), str(t), at)
            for f, t, at in project.query(f"select * from {HEAP}.user_migrations")
        ]
    )
    touches: dict[str, list[dict]] = {}
    pageviews = rows_as_dicts(
        project,
        f"select user_id, time, 1 as priority, cast(event_id as varchar) as touch_id, {CONTEXT}, domain, path,"
        f" query, hash from {HEAP}.pageviews where user_id is not null and time is not null",
    )
    sessions = rows_as_dicts(
        project,
        f"select user_id, time, 2 as priority, cast(session_id as varchar) as touch_id, {CONTEXT}, landing_page,"
        f" landing_page_query, landing_page_hash from {HEAP}.sessions"
        " where user_id is not null and time is not null",
    )
    for touch in pageviews + sessions:
        touch["time"] = utc(touch["time"])
        user = str(touch["user_id"])
        touches.setdefault(final.get(user, user), []).append(touch)
    return touches


def first_touch_properties(touch: dict) -> dict:
    """The $initial_* posthog-js would have set on this first event."""
    mobile = (touch["library"] or "").lower() in MOBILE_LIBRARIES
    referrer = touch["referrer"] or None
    if "domain" in touch:
        url = rebuild_url(touch["domain"], touch["path"], touch["query"], touch["hash"])
        path = touch["path"]
        pathname = (
            (path if path.startswith("/") else "/" + path)
            if path
            else ("/" if touch["domain"] else None)
        )
    else:
        url = rebuild_url(
            touch["landing_page"], None, touch["landing_page_query"], touch["landing_page_hash"]
        )
        page = re.sub(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", "", touch["landing_page"] or "")
        pathname = (
            (re.match(r"^[^/?#]*(/[^?#]*)", page) or [None, "/"])[1]
            if touch["landing_page"]
            else None
        )
    os_name, os_version = split_platform(touch["platform"])
    domain = REFERRING_DOMAIN.match(referrer) if referrer else None
    values = {
        "$initial_referrer": None if mobile else (referrer or "$direct"),
        "$initial_referring_domain": None
        if mobile
        else (domain[1] if domain else "$direct" if not referrer else None),
        "$initial_current_url": url,
        "$initial_pathname": pathname,
        "$initial_browser": touch["browser"],
        "$initial_os": os_name,
        "$initial_os_version": os_version,
        "$initial_device_type": touch["device_type"],
        **{
            f"$initial_utm_{part}": touch[f"utm_{part}"]
            for part in ("source", "medium", "campaign", "term", "content")
        },
    }
    return {key: value for key, value in values.items() if value}


def place(touch: dict, prefix: str) -> dict:
    values = {
        "country": "geoip_country_name",
        "region": "geoip_subdivision_1_name",
        "city": "geoip_city_name",
    }
    return {f"{prefix}{name}": touch[column] for column, name in values.items() if touch[column]}


def test_persons_get_their_place_and_first_touch_from_pageviews_and_sessions(
    built: DbtProject,
) -> None:
    touches = touches_of_final_users(built)
    users = {str(u["user_id"]): u for u in rows_as_dicts(built, f"select * from {HEAP}.users")}
    persons = {
        r["source_user_id"]: json.loads(r["payload"])["properties"]
        for r in rows_as_dicts(built, "select source_user_id, payload from posthog.posthog_persons")
    }
    derived_all = 0
    for user_id, props in persons.items():
        mine = touches.get(user_id, [])
        located = sorted(
            (t for t in mine if t["country"] or t["region"] or t["city"]),
            key=lambda t: (t["time"], t["priority"], t["touch_id"]),
        )
        # the latest place, as PostHog's GeoIP sets $geoip_* on the person ($set)
        latest = (
            max(located, key=lambda t: (t["time"], -t["priority"], t["touch_id"]))
            if located
            else None
        )
        assert {k: v for k, v in props["$set"].items() if k.startswith("$geoip_")} == (
            place(latest, "$") if latest else {}
        ), user_id
        raw = users[user_id]
        if not any(value for key, value in raw.items() if key.startswith("initial_")):
            # a users row without Heap's initial properties: all of them from the first touch and first place
            derived_all += 1
            first = (
                min(mine, key=lambda t: (t["priority"], t["time"], t["touch_id"])) if mine else None
            )
            expected = {
                **(first_touch_properties(first) if first else {}),
                **(place(located[0], "$initial_") if located else {}),
            }
            assert props["$set_once"] == expected, user_id
    assert derived_all > 10
    assert sum("$geoip_country_name" in p["$set"] for p in persons.values()) > len(persons) / 2


def test_aliases_link_identities_and_merged_users_once(built: DbtProject) -> None:
    expected_ids = final_distinct_ids(built)
    aliases = built.query("select distinct_id, alias, link_reason from posthog_aliases")
    assert len(aliases) == len({(d, a) for d, a, _ in aliases})
    for distinct_id, alias, _ in aliases:
        assert distinct_id != alias
        assert legal(distinct_id) and legal(alias)
        assert expected_ids[alias] == distinct_id
    merged = {str(f) for (f,) in built.query(f"select from_user_id from {HEAP}.user_migrations")}
    migrated_links = {a for _, a, reason in aliases if reason == "migration"}
    assert migrated_links == {m for m in merged if expected_ids[m] not in (None, m)}


def plan_properties(project: DbtProject, table: str, set_mode: str | None = None) -> set[str]:
    mode = "set_mode is null" if set_mode is None else f"set_mode = '{set_mode}'"
    return {
        name
        for (name,) in project.query(
            "select posthog_property from int_mapping__plan where source_name = 'heap' "
            f"and source_table = ? and transform != 'drop' and {mode}",
            [table],
        )
    }


def test_the_mapping_plan_covers_every_column_and_every_property_sent(built: DbtProject) -> None:
    derived = {"$current_url", "$session_id", "$geoip_disable"}
    sent: dict[str, set[str]] = {}
    for (table, _), payload in payloads(built).items():
        sent.setdefault(table, set()).update(payload["properties"])
    for table in [*event_tables(built), "users"]:
        columns = built.query(
            "select count(*) from information_schema.columns where table_schema = ? and table_name = ?",
            [HEAP, table],
        )[0][0]
        planned_columns = built.query(
            "select count(distinct source_column) from int_mapping__plan "
            "where source_table = ? and source_column not like 'touches.%'",
            [table],
        )[0][0]
        assert planned_columns == columns, table
        if table in sent:
            assert sent[table] - derived <= plan_properties(built, table), table
    persons = [json.loads(p) for (p,) in built.query("select payload from posthog_persons")]
    assert set().union(*(p["properties"]["$set"] for p in persons)) <= plan_properties(
        built, "users", "set"
    )
    assert set().union(*(p["properties"]["$set_once"] for p in persons)) <= plan_properties(
        built, "users", "set_once"
    )


def test_the_summary_prints_counts_reconciliation_and_the_mapping_plan(built: DbtProject) -> None:
    output = built.dbt("run-operation", "posthog_summary").stdout
    assert "Reconciliation: source rows = emitted + quarantined + skipped" in output
    plan = output[output.index("Mapping plan (int_mapping__plan)") :]
    lines = [line.split() for line in plan.splitlines()]
    assert any(line[:5] == ["heap", "platform", "$os", "os_name", "seed"] for line in lines)
    assert [
        "heap",
        "initial_browser",
        "$initial_browser",
        "value",
        "set_once",
        "seed",
        "users",
    ] in lines
    assert any(line[:2] == ["heap", "title"] and "seed" in line for line in lines)


def test_a_full_rebuild_gives_identical_rows(built: DbtProject) -> None:
    contract = ("posthog_events", "posthog_persons", "posthog_aliases")

    def read() -> dict[str, set]:
        return {model: set(built.query(f"select uuid, payload from {model}")) for model in contract}

    before = read()
    # every model, tables included: uuids are derived again, not kept from the first build
    built.dbt("run", "--full-refresh")
    assert read() == before


# ---------- the mapping seeds drive the output; new tables flow through


@pytest.fixture
def small(tmp_path: Path) -> DbtProject:
    project = DbtProject.copy_of_repo(tmp_path / "project")
    project.generate_heap(events=3_000)
    return project


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_editing_a_mapping_seed_changes_the_output_and_new_tables_flow_through(
    small: DbtProject,
) -> None:
    replace_in(
        small.root / "seeds/mappings/heap_event_property_map.csv",
        "browser,$browser,value,",
        "browser,browser_name,value,",
    )
    with (small.root / "seeds/mappings/heap_event_map.csv").open("a") as csv:
        csv.write('search_submit_query,searched,,emit,"Renamed for the test."\n')
    small.execute(
        f"create table {HEAP}.feature_flag_toggled as "
        f"select event_id + 1 as event_id, user_id, session_id, time, 'new-checkout' as flag_key "
        f"from {HEAP}.pageviews where event_id is not null and user_id is not null and time is not null limit 25"
    )
    small.dbt("build")
    events = [json.loads(p) for (p,) in small.query("select payload from posthog_events")]
    assert any("browser_name" in e["properties"] for e in events)
    assert not any("$browser" in e["properties"] for e in events)
    names = {e["event"] for e in events}
    assert "searched" in names and "search_submit_query" not in names
    flags = [e for e in events if e["event"] == "feature_flag_toggled"]
    assert len(flags) == 25
    assert all(e["properties"]["flag_key"] == "new-checkout" for e in flags)
    plan = set(
        small.query(
            "select source_table, source_column, posthog_property, origin from int_mapping__plan "
            "where source_column in ('browser', 'flag_key')"
        )
    )
    assert ("pageviews", "browser", "browser_name", "seed") in plan
    assert ("feature_flag_toggled", "flag_key", "flag_key", "default") in plan


def test_a_mapping_onto_a_reserved_name_fails_the_build(small: DbtProject) -> None:
    with (small.root / "seeds/mappings/heap_event_property_map.csv").open("a") as csv:
        csv.write('device,$set,value,"Wrong on purpose."\n')
    result = small.dbt("build", "--select", "heap_event_property_map", check=False)
    assert result.returncode != 0
    assert "valid_posthog_name" in result.stdout


def test_identifier_case_does_not_matter(small: DbtProject) -> None:
    small.dbt("build")
    lower_case = set(small.query("select uuid, payload from posthog_events"))
    # Snowflake stores unquoted identifiers upper case: rebuild the schema that way
    tables = [
        t
        for (t,) in small.query(
            "select table_name from information_schema.tables where table_schema = ?", [HEAP]
        )
    ]
    statements = ["create schema HEAP_UPPER"]
    for table in tables:
        columns = [
            c
            for (c,) in small.query(
                "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
                "order by ordinal_position",
                [HEAP, table],
            )
        ]
        select = ", ".join(f'"{c}" as "{c.upper()}"' for c in columns)
        statements.append(
            f'create table HEAP_UPPER."{table.upper()}" as select {select} from {HEAP}."{table}"'
        )
    statements.append(f"drop schema {HEAP} cascade")
    small.execute(";\n".join(statements))
    small.dbt("build", vars={"heap_schema": "HEAP_UPPER"})
    upper_case = set(small.query("select uuid, payload from posthog_events"))
    assert upper_case == lower_case


def test_a_wrong_heap_schema_names_the_vars_to_fix(small: DbtProject) -> None:
    result = small.dbt("build", vars={"heap_schema": "no_such_schema"}, check=False)
    assert result.returncode != 0
    assert "Found no Heap tables in" in result.stdout
    assert "heap_schema" in result.stdout


CONTRACT_VIEWS = ("posthog_events", "posthog_persons", "posthog_aliases")


def contract_rows(project: DbtProject) -> dict[str, set[tuple]]:
    return {
        view: set(project.query(f"select uuid, payload from {view}")) for view in CONTRACT_VIEWS
    }


def serve_as_views(project: DbtProject, deduplicate: bool) -> None:
    """Heap's BigQuery layout, on DuckDB: every table but all_events, user_migrations and the metadata becomes a
    view over `<name>_raw`; Heap's views drop the sync's exact copies, a user's view over files keeps them."""
    select = "select distinct *" if deduplicate else "select *"
    statements = []
    for name, kind in schema_tables(project).items():
        if name in {"all_events", "user_migrations"} | METADATA_TABLES or name.endswith("_raw"):
            continue
        if kind != "VIEW":
            statements.append(f'alter table {HEAP}."{name}" rename to "{name}_raw"')
        statements.append(
            f'create or replace view {HEAP}."{name}" as {select} from {HEAP}."{name}_raw"'
        )
    project.execute(";\n".join(statements))


def test_heap_tables_served_as_views_give_the_same_rows(small: DbtProject) -> None:
    # Heap's BigQuery sync could not hold both: a view report_export sits on a table report_export_raw
    small.execute(f"drop table {HEAP}.report_export; drop table {HEAP}.report_export_raw")
    small.dbt("build")
    from_tables = contract_rows(small)
    for deduplicate in (False, True):
        serve_as_views(small, deduplicate=deduplicate)
        small.dbt("build")
        assert contract_rows(small) == from_tables, f"views (deduplicate={deduplicate})"
    roles = dict(
        small.query(
            "select source_table, table_role from posthog_reconciliation where source_name = 'heap'"
        )
    )
    assert roles["pageviews"] == roles["_key_events_pm__plp_visit_collection"] == "events"
    assert roles["pageviews_raw"] == roles["users_raw"] == roles["sessions_raw"] == "raw twin"
    assert set(roles) == set(schema_tables(small))


def test_new_tables_and_broken_rows_are_accounted_for_not_fatal(small: DbtProject) -> None:
    small.dbt("build")
    small.execute(
        f"create table {HEAP}._event_metadata as select 'pageviews' as event_table_name;"
        f"create table {HEAP}._growth_experiments_trial_started as"
        f" select event_id + 7 as event_id, user_id, session_id, time from {HEAP}.pageviews"
        " where event_id is not null and user_id is not null and time is not null limit 5;"
        f"insert into {HEAP}.user_migrations values (null, 1, timestamp '2024-07-01 00:00:00'),"
        " (2, null, timestamp '2024-07-01 00:00:00'), (3, 3, timestamp '2024-07-01 00:00:00')"
    )
    # the tables were added after the build: the test reads the schema, not the build, and names them
    result = small.dbt("test", "--select", "posthog_reconciliation", check=False)
    assert result.returncode != 0
    assert "every_heap_table_reconciled" in result.stdout
    small.dbt("build")
    rows = {
        r["source_table"]: r
        for r in rows_as_dicts(
            small, "select * from posthog.posthog_reconciliation where source_name = 'heap'"
        )
    }
    assert rows["_event_metadata"]["table_role"] == "sync metadata"
    assert rows["_growth_experiments_trial_started"]["emitted_rows"] == 5
    migrations = rows["user_migrations"]
    assert (migrations["quarantined_rows"], migrations["unaccounted_rows"]) == (2, 0)
    assert migrations["skipped_rows"] >= 1  # the user merged into itself
    reasons = {
        r
        for (r,) in small.query(
            "select reason from posthog_quarantine where source_table = 'user_migrations'"
        )
    }
    assert reasons == {"no from_user_id", "no to_user_id"}
