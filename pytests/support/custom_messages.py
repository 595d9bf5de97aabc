"""A generic-source relation (custom_events_relation) built from the Heap sample, shared by the end-to-end suite
and the warehouse suite: every pageview as a capture message (times written in every common form and zone), users as
identify messages, migrations as alias messages, rows PostHog cannot take, and person and link tables.
"""

from __future__ import annotations

from support.dbt_project import DbtProject

TEXT_TIME = (
    # each row writes its time in one of these forms (n % 6); all mean the same instant
    "strftime(time, '%Y-%m-%dT%H:%M:%S.%fZ')",
    "strftime(time, '%Y-%m-%d %H:%M:%S.%f')",
    "strftime(time + interval 2 hour, '%Y-%m-%dT%H:%M:%S.%f') || '+02:00'",
    "strftime(time - interval 330 minute, '%Y-%m-%dT%H:%M:%S.%f') || '-0530'",
    "cast(epoch_ms(time) as varchar)",
    "cast(epoch_us(time) as varchar)",
)
BAD_ROWS = [
    # (id, type, event, distinct_id, timestamp, properties, uuid) -> expected quarantine reason
    (("bad-1", "track", "E", "anonymous", "2024-07-06", "{}", None), "no usable distinct_id"),
    (("bad-2", "track", "E", "", "2024-07-06", "{}", None), "no usable distinct_id"),
    (("bad-3", "track", "E", "u-9", "last tuesday", "{}", None), "is not a time"),
    (("bad-4", "track", "E", "u-9", None, "{}", None), "no timestamp"),
    (("bad-5", "track", "E", "u-9", "2099-01-01T00:00:00Z", "{}", None), "in the future"),
    (("bad-6", "track", "E", "u-9", "2024-07-06", "[1, 2]", None), "not a JSON object"),
    (("bad-7", "track", "E", "u-9", "2024-07-06", "not json", None), "not a JSON object"),
    (("bad-8", "group", "E", "u-9", "2024-07-06", "{}", None), "is not capture, identify or alias"),
    (("bad-9", "track", None, "u-9", "2024-07-06", "{}", None), "no event name"),
    (("bad-10", "alias", None, "u-9", "2024-07-06", "{}", None), "without a usable alias"),
    (("bad-11", "track", "E", "u-9", "1969-12-31T23:59:59Z", "{}", None), "before 1970-01-01"),
    (("bad-12", "track", "E", "u-9", "2150-01-01T00:00:00Z", "{}", None), "after 2149-06-06"),
]
# Rows PostHog would refuse, as (id, properties SQL) -> expected quarantine reason, and the largest event it takes:
# DuckDB only (a megabyte row, a number no warehouse stores alike).
REFUSED_ROWS = [
    (
        ("big-1", "'{\"blob\": \"' || repeat('x', 1000000) || '\"}'"),
        "over PostHog's 1,000,000-byte event limit",
    ),
    (("num-1", "'{\"n\": 1e999}'"), "a number PostHog refuses"),
    (("num-2", '\'{"$set": {"n": -1e999}}\''), "a number PostHog refuses"),
]


def write_custom_messages(
    project: DbtProject, heap_schema: str, schema: str = "app", persons_column: str = "$set"
) -> None:
    """`<schema>.messages`, `<schema>.people` (person updates in `persons_column`: `$set`, or `properties` where
    a column cannot be named `$set`, as on BigQuery) and `<schema>.links`, from the Heap sample in `heap_schema`."""
    times = "\n".join(f"when {n} then {form}" for n, form in enumerate(TEXT_TIME))
    bad = ", ".join(
        "("
        + ", ".join("null" if v is None else "'" + v.replace("'", "''") + "'" for v in row)
        + ")"
        for row, _ in BAD_ROWS
    )
    project.execute(
        f"""
        create schema {schema};
        create table {schema}.messages (
            id varchar, type varchar, event varchar, distinct_id varchar, "timestamp" varchar,
            properties varchar, uuid varchar
        );
        insert into {schema}.messages
        select
            case when n % 9 = 0 then null else 'pv-' || event_id end,
            case n % 3 when 0 then 'page' when 1 then null else 'track' end,
            case when n % 3 = 0 then null else 'Viewed Page' end,
            cast(user_id as varchar),
            case n % 6 {times} end,
            to_json({{path: path, title: title, browser: browser, n: n}}),
            null
        from (
            select row_number() over (order by event_id, time) as n, *
            from {heap_schema}.pageviews
            where event_id is not null and user_id is not null and time < timestamp '2030-01-01'
        ) as pageviews;
        -- a re-synced copy of some rows, and rows that bring their own uuid
        insert into {schema}.messages select * from {schema}.messages where id like 'pv-%' and id like '%7';
        insert into {schema}.messages values
            ('own-1', 'track', 'Own', 'u-own', '2024-07-06T12:00:00Z', '{{}}', 'C0FFEE00-1111-4222-8333-444455556666');
        -- identify: the Heap user identified, its anonymous id the Heap user id (joindate is zoned, as Heap's)
        insert into {schema}.messages
        select
            'id-' || user_id, 'identify', null, identity,
            strftime(timezone('UTC', joindate), '%Y-%m-%dT%H:%M:%S.%fZ'),
            to_json({{
                '$anon_distinct_id': cast(user_id as varchar),
                '$set': {{email: email, plan: plan_tier}},
                '$set_once': {{first_browser: initial_browser}}
            }}),
            null
        from {heap_schema}.users
        where identity like '%@northwind.io';
        -- a later identify changes the plan: $set takes the latest, $set_once keeps the earliest
        insert into {schema}.messages
        select
            'id2-' || user_id, 'identify', null, identity, strftime(last_modified, '%Y-%m-%d %H:%M:%S.%f'),
            to_json({{'$set': {{plan: 'enterprise'}}, '$set_once': {{first_browser: 'Lynx'}}}}),
            null
        from {heap_schema}.users
        where identity like '%@northwind.io' and last_modified > timezone('UTC', joindate);
        -- alias: a merged Heap user joins the user it became
        insert into {schema}.messages
        select
            'al-' || from_user_id, 'alias', null, cast(to_user_id as varchar),
            strftime(time, '%Y-%m-%dT%H:%M:%S.%fZ'), to_json({{alias: cast(from_user_id as varchar)}}), null
        from {heap_schema}.user_migrations
        where from_user_id != to_user_id;
        insert into {schema}.messages values {bad};

        create table {schema}.people (id varchar, distinct_id varchar, "timestamp" timestamp, "{persons_column}" json);
        insert into {schema}.people values
            ('p-1', 'crm-1', timestamp '2024-01-01 00:00:00', '{{"tier": "gold"}}'),
            ('p-2', 'crm-1', timestamp '2024-02-01 00:00:00', '{{"tier": "platinum"}}'),
            ('p-3', 'null', timestamp '2024-02-01 00:00:00', '{{"tier": "lost"}}');
        create table {schema}.links (distinct_id varchar, alias varchar, "timestamp" varchar);
        insert into {schema}.links values
            ('crm-1', 'legacy-crm-1', '2024-01-01T00:00:00Z'),
            ('crm-1', 'legacy-crm-1', '2024-03-01T00:00:00Z'),
            ('crm-1', 'crm-1', '2024-01-01T00:00:00Z'),
            ('crm-1', 'undefined', '2024-01-01T00:00:00Z');
        """
    )


def write_refused_rows(project: DbtProject, schema: str = "app") -> None:
    """REFUSED_ROWS into `<schema>.messages`, an event of exactly 1,000,000 bytes (sent) and a person row whose
    update makes the person's $set event too large (`crm-2`: the person is quarantined, the row folded)."""
    values = ", ".join(
        f"('{row_id}', 'track', 'E', 'u-9', '2024-07-06T00:00:00Z', {properties}, null)"
        for (row_id, properties), _ in REFUSED_ROWS
    )
    # {"uuid":..,"event":"E","distinct_id":"u-9","timestamp":"2024-07-06T00:00:00.000000+00:00","properties":{..}}
    # is 132 bytes around the properties, which are {"blob":"<x * n>","$geoip_disable":true}
    fill = 1_000_000 - 132 - len('"E"') - len('"u-9"') - len('{"blob":"","$geoip_disable":true}')
    project.execute(
        f"""
        insert into {schema}.messages values {values};
        insert into {schema}.messages values
            ('big-0', 'track', 'E', 'u-9', '2024-07-06T00:00:00Z',
             '{{"blob": "' || repeat('x', {fill}) || '"}}', null);
        insert into {schema}.people values
            ('p-4', 'crm-2', timestamp '2024-02-01 00:00:00', '{{"blob": "' || repeat('x', 1000000) || '"}}');
        """
    )
