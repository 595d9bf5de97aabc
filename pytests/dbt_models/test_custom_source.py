"""The generic source (custom_events_relation) through the real `dbt build`, checked against Python re-derivations.

The relation is built from the Heap sample (ids above 2^53, awkward text, migrations) as capture, identify and alias
messages, with times written in every common form and zone, plus rows PostHog cannot take; a second test runs the
worked example of docs/adding_a_source.md: Segment's warehouse `tracks` and `identifies` tables as a custom source.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from support.custom_messages import (
    BAD_ROWS,
    REFUSED_ROWS,
    TEXT_TIME,
    write_custom_messages,
    write_refused_rows,
)
from support.dbt_project import REPO_ROOT, DbtProject
from support.uuids import md5_uuid

pytestmark = pytest.mark.slow

HEAP = "heap_main_production"
VARS = {"heap_enabled": False, "custom_events_relation": "app.messages"}
UTC = dt.UTC


def iso(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f") + "+00:00"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    project = DbtProject.copy_of_repo(tmp_path_factory.mktemp("custom") / "project")
    project.generate_heap(events=4_000)
    write_custom_messages(project, HEAP)
    write_refused_rows(project)
    project.dbt(
        "build",
        vars={
            **VARS,
            "custom_persons_relation": "app.people",
            "custom_aliases_relation": "app.links",
        },
    )
    return project


def test_every_row_is_accounted_for(built: DbtProject) -> None:
    counts = {
        table: built.query(f"select count(*) from app.{table}")[0][0]
        for table in ("messages", "people", "links")
    }
    reconciliation = {
        row[0]: row[1:]
        for row in built.query(
            "select source_table, source_rows, emitted_rows, quarantined_rows, skipped_rows, "
            "unaccounted_rows, emitted_rows_missing from posthog_reconciliation"
        )
    }
    # persons are derived (folded from many rows): their row counts the persons, crm-2's too large to send
    counts["person_messages"] = built.query("select count(*) from int_custom_persons__mapped")[0][0]
    assert set(reconciliation) == set(counts)
    for table, count in counts.items():
        source, emitted, quarantined, skipped, unaccounted, missing = reconciliation[table]
        assert source == count == emitted + quarantined + skipped
        assert (unaccounted, missing) == (0, 0)
    assert reconciliation["person_messages"][2] == 1


def test_rows_that_cannot_be_sent_are_quarantined_with_their_reason(built: DbtProject) -> None:
    reasons = dict(
        built.query(
            "select source_row_id, reason from posthog_quarantine where source_table = 'messages'"
        )
    )
    for (row_id, *_), expected in BAD_ROWS + REFUSED_ROWS:
        assert expected in reasons[row_id], (row_id, reasons.get(row_id))
    assert set(reasons) == {row[0] for row, _ in BAD_ROWS + REFUSED_ROWS}
    (people,) = built.query(
        "select count(*) from posthog_quarantine where source_table = 'people' "
        "and reason like 'no usable distinct_id%'"
    )[0]
    assert people == 1


def test_the_largest_event_posthog_takes_is_sent_and_a_person_too_large_is_not(
    built: DbtProject,
) -> None:
    ((payload,),) = built.query("select payload from posthog_events where source_row_id = 'big-0'")
    assert len(payload.encode()) == 1_000_000
    ((reason,),) = built.query(
        "select reason from posthog_quarantine "
        "where source_table = 'person_messages' and source_row_id = 'crm-2'"
    )
    assert "over PostHog's 1,000,000-byte event limit" in reason
    assert not built.query("select * from posthog_persons where distinct_id = 'crm-2'")


def test_every_contract_row_passes_the_loaders_own_checks(
    built: DbtProject, tmp_path: Path
) -> None:
    """The loader's checks before sending (its second line) find nothing the models let through."""
    sent, expected = built.dry_run_uuids(tmp_path / "bodies")
    assert sent == expected


def test_uuids_come_from_the_row_then_its_id_then_its_content(built: DbtProject) -> None:
    rows = built.query(
        "select m.id, m.uuid, e.uuid from app.messages as m "
        "join posthog_events as e on e.source_row_id = m.id where m.type is distinct from 'identify'"
    )
    assert rows
    for row_id, own, event_uuid in rows:
        expected = own.lower() if own else md5_uuid(f"custom:messages:{row_id}")
        assert event_uuid == expected
    without_id = built.query(
        "select count(*), count(distinct uuid) from posthog_events where source_row_id is null"
    )[0]
    assert without_id[0] > 0 and without_id[0] == without_id[1]
    copies = built.query(
        "select count(*) from int_custom_events__classified "
        "where status_reason = 'duplicate of a row already emitted (same uuid)'"
    )[0][0]
    assert (
        copies
        == built.query(
            "select count(*) - count(distinct coalesce(id, properties)) from app.messages "
            "where id like 'pv-%' or id is null"
        )[0][0]
    )


def test_every_time_form_is_the_same_instant_in_utc(built: DbtProject) -> None:
    source = {
        f"pv-{event_id}": time
        for event_id, time in built.query(
            f"select event_id, time from {HEAP}.pageviews where event_id is not null"
        )
    }
    payloads = built.query(
        "select source_row_id, payload from posthog_events where source_row_id like 'pv-%'"
    )
    forms = set()
    for row_id, payload in payloads:
        event = json.loads(payload)
        expected = source[row_id]
        forms.add(event["properties"]["n"] % len(TEXT_TIME))
        if (
            event["properties"]["n"] % len(TEXT_TIME) == 4
        ):  # epoch milliseconds: exact to the ms anyway
            expected = expected.replace(microsecond=expected.microsecond // 1000 * 1000)
        assert event["timestamp"] == iso(expected), row_id
    assert forms == set(range(len(TEXT_TIME)))


def test_events_keep_their_properties_without_person_updates(built: DbtProject) -> None:
    events = [json.loads(p) for (p,) in built.query("select payload from posthog_events")]
    assert {e["event"] for e in events} >= {"Viewed Page", "$pageview", "Own"}
    for event in events:
        assert event["properties"]["$geoip_disable"] is True
        assert "$set" not in event["properties"] and "$set_once" not in event["properties"]
    assert not built.query(
        "select count(*) from posthog_events where source_row_id like 'id%' or source_row_id like 'al-%'"
    )[0][0]


def test_persons_fold_set_latest_and_set_once_earliest(built: DbtProject) -> None:
    users = built.query(
        "select identity, email, plan_tier, initial_browser, timezone('UTC', joindate), last_modified "
        f"from {HEAP}.users "
        "where identity like '%@northwind.io'"
    )
    persons = {
        distinct_id: json.loads(payload)["properties"]
        for distinct_id, payload in built.query("select distinct_id, payload from posthog_persons")
    }
    for identity, email, plan, browser, joined, modified in users:
        person = persons[identity]
        changed = modified > joined
        assert person["$set"].get("email") == email
        assert person["$set"].get("plan") == ("enterprise" if changed else plan)
        assert person["$set_once"].get("first_browser") == (
            browser or ("Lynx" if changed else None)
        )
    assert persons["crm-1"]["$set"] == {"tier": "platinum"}
    assert "null" not in persons


def test_aliases_come_from_identify_alias_messages_and_the_links_table(built: DbtProject) -> None:
    links = {
        (distinct_id, alias): reason
        for distinct_id, alias, reason in built.query(
            "select distinct_id, alias, link_reason from posthog_aliases"
        )
    }
    identified = built.query(
        f"select identity, cast(user_id as varchar) from {HEAP}.users where identity like '%@northwind.io'"
    )
    for identity, user_id in identified:
        assert links[(identity, user_id)] == "identify"
    migrations = built.query(
        f"select cast(to_user_id as varchar), cast(from_user_id as varchar) from {HEAP}.user_migrations "
        "where from_user_id != to_user_id"
    )
    for pair in migrations:
        assert links[pair] == "alias"
    assert links[("crm-1", "legacy-crm-1")] == "alias"
    assert ("crm-1", "crm-1") not in links and ("crm-1", "undefined") not in links
    skipped = dict(
        built.query(
            "select status_reason, count(*) from int_custom_alias_rows__classified "
            "where row_status != 'emitted' group by 1"
        )
    )
    assert skipped == {
        "duplicate of a link already emitted": 1,
        "links an id to itself": 1,
        "no usable alias: it is on the PostHog illegal distinct id list": 1,
    }


# ---------- the worked example of docs/adding_a_source.md: Segment's warehouse tables

SEGMENT_TABLES = """
create schema segment;
create table segment.tracks (
    id varchar, anonymous_id varchar, user_id varchar, event varchar, event_text varchar,
    context_page_url varchar, context_page_path varchar, context_page_title varchar,
    context_page_referrer varchar, context_ip varchar, context_library_name varchar,
    context_library_version varchar, received_at timestamptz, sent_at timestamptz, "timestamp" timestamptz,
    original_timestamp timestamptz, uuid_ts timestamp
);
create table segment.identifies (
    id varchar, anonymous_id varchar, user_id varchar, email varchar, name varchar, plan varchar,
    context_ip varchar, received_at timestamptz, sent_at timestamptz, "timestamp" timestamptz,
    original_timestamp timestamptz, uuid_ts timestamp
);
insert into segment.tracks values
    ('ajs-1', 'anon-1', null, 'signed_up', 'Signed Up', 'https://x.io/signup', '/signup', 'Sign up', null,
     '203.0.113.7', 'analytics.js', '4.1.0', '2024-07-06 12:00:01+00', '2024-07-06 12:00:00.5+00',
     '2024-07-06 14:00:00+02', '2024-07-06 14:00:00+02', '2024-07-06 12:00:02'),
    ('ajs-2', 'anon-1', 'user-1', 'order_completed', 'Order Completed', 'https://x.io/cart', '/cart', 'Cart',
     'https://x.io/signup', '203.0.113.7', 'analytics.js', '4.1.0', '2024-07-06 12:05:01+00',
     '2024-07-06 12:05:00+00', '2024-07-06 12:05:00.250+00', '2024-07-06 12:05:00.250+00', '2024-07-06 12:05:02');
insert into segment.identifies values
    ('ajs-3', 'anon-1', 'user-1', 'ana@x.io', 'Ana', 'pro', '203.0.113.7', '2024-07-06 12:04:01+00',
     '2024-07-06 12:04:00+00', '2024-07-06 12:04:00+00', '2024-07-06 12:04:00+00', '2024-07-06 12:04:02');
"""


def segment_view_sql(docs: Path) -> str:
    """The DuckDB view of docs/adding_a_source.md, as written there."""
    text = docs.read_text()
    start = text.index("```sql\ncreate view segment.posthog_messages")
    return text[start + len("```sql\n") : text.index("```", start + 6)]


def test_segment_tracks_and_identifies_as_a_custom_source(tmp_path: Path) -> None:
    project = DbtProject.copy_of_repo(tmp_path / "project")
    project.execute(SEGMENT_TABLES + segment_view_sql(REPO_ROOT / "docs/adding_a_source.md"))
    project.dbt(
        "build", vars={"heap_enabled": False, "custom_events_relation": "segment.posthog_messages"}
    )

    events = {
        e["properties"]["$current_url"]: e
        for e in (json.loads(p) for (p,) in project.query("select payload from posthog_events"))
    }
    signup, order = events["https://x.io/signup"], events["https://x.io/cart"]
    assert (signup["event"], signup["distinct_id"]) == ("Signed Up", "anon-1")
    assert (order["event"], order["distinct_id"]) == ("Order Completed", "user-1")
    assert signup["timestamp"] == "2024-07-06T12:00:00.000000+00:00"
    assert order["timestamp"] == "2024-07-06T12:05:00.250000+00:00"
    assert signup["uuid"] == md5_uuid("custom:posthog_messages:ajs-1")
    assert order["properties"]["$referrer"] == "https://x.io/signup"
    ((person,),) = project.query("select payload from posthog_persons")
    assert json.loads(person)["properties"]["$set"] == {
        "email": "ana@x.io",
        "name": "Ana",
        "plan": "pro",
    }
    assert project.query("select distinct_id, alias from posthog_aliases") == [("user-1", "anon-1")]


def test_a_relation_without_a_required_column_names_it(tmp_path: Path) -> None:
    project = DbtProject.copy_of_repo(tmp_path / "project")
    project.execute(
        "create schema app; create table app.log (event varchar, distinct_id varchar, ts varchar)"
    )
    result = project.dbt(
        "build", vars={"heap_enabled": False, "custom_events_relation": "app.log"}, check=False
    )
    assert result.returncode != 0
    assert "custom_events_relation names" in result.stdout
    assert "has no column timestamp, properties" in result.stdout
    wrong = project.dbt(
        "build", vars={"heap_enabled": False, "custom_events_relation": "log"}, check=False
    )
    assert "name a table or view as schema.table or database.schema.table" in wrong.stdout
