"""Generate a Heap Connect schema in DuckDB: the tables Heap lands, with the cases that break naive migrations.

Everything is computed in DuckDB SQL from row numbers and `hash()`, so the same arguments give the same data on
the same DuckDB version. Every column of an event is a function of its row number alone, so events are written
in time order a bounded chunk at a time (as Heap's sync appends them): memory depends on the chunk, not on the
number of events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb

# Strings PostHog refuses as distinct ids (reference: posthog_capture.md §2); some users carry them as identity.
ILLEGAL_IDENTITIES = (
    "null",
    "anonymous",
    "0",
    "undefined",
    '"guest"',
    "   ",
    "None",
    "[object Object]",
    "NaN",
    "distinct_id",
)

# Every form of Heap's `platform` string the transform must split into $os / $os_version.
WEB_PLATFORMS = (
    "Mac OS X 10.15.7",
    "Windows 10",
    "Windows 11",
    "Chrome OS 14541.0.0",
    "Linux",
    "Ubuntu 22.04",
    "Windows XP",
    "",
)
MOBILE_PLATFORMS = ("iOS 17.5.1", "iOS 16.7", "iPadOS 17.4", "Android 14", "Android 13.0.1")

# Values that break hand-written JSON and CSV code: quotes, backslashes, newlines, tabs, unicode, RTL, emoji.
AWKWARD_TEXT = (
    "Pricing – Northwind",  # noqa: RUF001 (an en dash, as real titles have)
    'The "best" plan',
    "C:\\Users\\ana\\report.pdf",
    "line one\nline two",
    "tab\tseparated",
    "料金プラン 🚀",
    "مرحبا بالعالم",
    "Ünïcödé ñ ß ø",
    "it's a 'quoted' value",
    "<script>alert(1)</script>",
)


@dataclass(frozen=True)
class HeapSampleSpec:
    events: int
    schema: str = "heap_main_production"
    seed: int = 42
    end_date: date = date(2026, 6, 30)
    days: int = 730

    @property
    def users(self) -> int:
        # Round up to whole blocks of 100: each block carries one of every identity and migration case.
        return max(100, -(-self.events // 2500) * 100)

    @property
    def sessions(self) -> int:
        return max(20, self.events // 8)


# Events per chunk written to the event tables: a chunk's rows are sorted in memory.
CHUNK_EVENTS = 1_000_000
# Event tables in the order they are written; each is filled from every chunk in turn.
EVENT_TABLES = (
    "pageviews",
    "signup_click_create_account",
    "checkout_complete_purchase",
    "app_open_screen",
    "search_submit_query",
    "intercom_events_conversation_was_closed",
)


def _sql_list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def generate_heap_sample(
    con: duckdb.DuckDBPyConnection, spec: HeapSampleSpec, chunk_events: int = CHUNK_EVENTS
) -> dict[str, int]:
    """(Re)create `spec.schema` with Heap Connect's tables; returns row counts per table."""
    schema = spec.schema
    con.execute(f"drop schema if exists {schema} cascade")
    con.execute(f"create schema {schema}")
    con.execute(f"use {schema}")
    for statement in _people_statements(spec):
        con.execute(statement)
    _write_events(con, spec, chunk_events)
    tables = [
        row[0]
        for row in con.execute(
            "select table_name from information_schema.tables "
            "where table_schema = ? and table_catalog = current_database() order by 1",
            [schema],
        ).fetchall()
    ]
    counts = {t: con.execute(f'select count(*) from {schema}."{t}"').fetchone()[0] for t in tables}
    con.execute("use main")
    return counts


def _people_statements(spec: HeapSampleSpec) -> list[str]:
    seed = spec.seed
    end_ts = f"timestamp '{spec.end_date.isoformat()} 00:00:00'"
    span_seconds = spec.days * 86400
    # A session and a user are functions of their number (s, i), so an event can compute its session's
    # columns without a join.
    macros = f"""
        create or replace temp macro rnd(i, salt) as (hash(i, {seed}, salt) % 1000000) / 1000000.0;
        create or replace temp macro pick(i, salt, n) as (hash(i, {seed}, salt) % n)::bigint;
        create or replace temp macro choose(i, salt, options) as options[1 + pick(i, salt, len(options))];
        create or replace temp macro start_ts() as {end_ts} - to_seconds({span_seconds});
        create or replace temp macro user_id_of(i) as
            case when i % 3 = 0 then 9007199254740993 else 1000000000000000 end
                + i * 1000003 + pick(i, 'uid', 1000000);
        create or replace temp macro session_id_of(s) as 1000000000000000 + s * 1000003 + pick(s, 'sid', 1000000);
        create or replace temp macro session_user_i(s) as pick(s, 'user', {spec.users});
        create or replace temp macro session_is_web(s) as pick(s, 'kind', 10) < 7;
        create or replace temp macro session_started_at(s) as
            start_ts() + to_seconds(pick(s, 'start', {span_seconds})) + to_milliseconds(pick(s, 'sms', 1000));
    """
    # Users come in blocks of 100; the position inside a block (k) decides identity and migration cases.
    users = f"""
        create temp table user_seed as
        select
            i,
            i % 100 as k,
            user_id_of(i) as user_id,
            start_ts() + to_seconds(pick(i, 'join', {span_seconds // 2}))
                + to_milliseconds(pick(i, 'ms', 1000)) as joindate
        from range({spec.users}) as r(i);

        create table users as
        select
            user_id,
            case
                when k < 40 then 'user' || i || '@northwind.io'
                when k < 45 then 'u_' || i
                when k = 45 then 'josé.núñez' || i || '@exämple.com'
                when k = 46 then '李' || i || '@例子.公司'
                when k = 47 then 'o''brien"' || i || '\\x@quotes.io'
                when k = 48 then choose(i, 'illegal', {_sql_list(ILLEGAL_IDENTITIES)})
                when k = 49 then repeat('x', 200) || i
                when k = 55 then ''
            end as identity,
            null::varchar as handle,
            case when k < 40 then 'user' || i || '@northwind.io'
                 when k = 45 then 'josé.núñez' || i || '@exämple.com' end as email,
            joindate,
            joindate + to_seconds(pick(i, 'mod', 86400 * 90)) as last_modified,
            case when k < 60 then choose(i, 'ib', ['Chrome', 'Safari', 'Firefox', 'Edge']) end
                as initial_browser,
            case when k < 60 then choose(i, 'idt', ['Desktop', 'Mobile', 'Tablet']) end
                as initial_device_type,
            case when k < 60 then choose(i, 'ilp', ['www.northwind.io/pricing',
                'https://www.northwind.io/', 'app.northwind.io/login']) end as initial_landing_page,
            case when k < 30 then choose(i, 'iref', ['https://www.google.com/', 'https://news.ycombinator.com/',
                'https://t.co/abc']) end as initial_referrer,
            case when k < 60 then choose(i, 'icity', ['San Francisco', 'Berlin', 'Toronto', 'São Paulo',
                'Zürich']) end as initial_city,
            case when k < 60 then choose(i, 'icountry', ['United States', 'Germany', 'Canada', 'Brazil',
                'Switzerland']) end as initial_country,
            case when k < 60 then choose(i, 'iregion', ['California', 'Berlin', 'Ontario']) end
                as initial_region,
            case when k < 60 then choose(i, 'iplat', {_sql_list(WEB_PLATFORMS + MOBILE_PLATFORMS)}) end
                as initial_platform,
            case when k < 20 then choose(i, 'iutm', ['google', 'newsletter', 'twitter']) end
                as initial_utm_source,
            case when k < 20 then choose(i, 'iutmm', ['cpc', 'email', 'social']) end as initial_utm_medium,
            case when k < 20 then 'summer_promo' end as initial_utm_campaign,
            case when k < 50 then choose(i, 'plan', ['free', 'pro', 'enterprise']) end as plan_tier,
            case when k < 50 then 'acct_' || pick(i, 'acct', 9000) end as company_id,
            case when k < 50 then pick(i, 'seats', 250)::integer end as seats,
            k % 7 = 0 as is_admin,
            case when k < 50 then round(rnd(i, 'ltv') * 5000, 2)::double end as lifetime_value,
            case when k % 10 = 3 then 'Invalid date' when k < 50 then '2024-0' || (1 + k % 9) || '-15' end
                as trial_ends_on,
            case when k < 10 then choose(i, 'note', {_sql_list(AWKWARD_TEXT)}) end as account_note
        from user_seed;
    """
    # Migration cases (Heap merges the anonymous user into the identified one): one hop, two hops, three
    # hops, a chain ending at an anonymous user, and a cycle (never written by Heap, must not hang us).
    migrations = """
        create table user_migrations as
        with pairs as (
            select 50 as from_k, 0 as to_k union all select 51, 1 union all select 52, 2
            union all select 53, 3
            union all select 60, 61 union all select 61, 5
            union all select 70, 71 union all select 71, 72 union all select 72, 6
            union all select 90, 91
            union all select 80, 81 union all select 81, 80
        )
        select f.user_id as from_user_id, t.user_id as to_user_id,
               greatest(f.joindate, t.joindate) + to_seconds(3600) as time
        from pairs
        join user_seed as f on f.k = pairs.from_k
        join user_seed as t on t.k = pairs.to_k and t.i // 100 = f.i // 100
        -- the cycle only in every tenth block: rare, as corrupt data is
        where pairs.from_k not in (80, 81) or f.i // 100 % 10 = 0;
    """
    sessions = f"""
        create table sessions as
        select
            session_id_of(s) as session_id,
            user_id_of(session_user_i(s)) as user_id,
            null::bigint as event_id,
            session_started_at(s) as time,
            {_session_context("s")}
        from range({spec.sessions}) as r(s);
    """
    return [macros, users, migrations, sessions]


def _session_context(s: str) -> str:
    """The columns a session gives each of its events (Heap copies them onto every event row)."""
    web = _sql_list(WEB_PLATFORMS)
    mobile = _sql_list(MOBILE_PLATFORMS)
    return f"""
        case when session_is_web({s}) then 'web' when pick({s}, 'os', 2) = 0 then 'ios' else 'android' end
            as library,
        case when session_is_web({s}) then choose({s}, 'plat', {web}) else choose({s}, 'mplat', {mobile}) end
            as platform,
        case when session_is_web({s}) then choose({s}, 'dt', ['Desktop', 'Desktop', 'Mobile', 'Tablet'])
            else 'Mobile' end as device_type,
        choose({s}, 'country', ['United States', 'Germany', 'Canada', 'Japan', 'Brazil', NULL]) as country,
        choose({s}, 'region', ['California', 'Berlin', 'Ontario', 'Tokyo', NULL]) as region,
        choose({s}, 'city', ['San Francisco', 'Berlin', 'Toronto', '東京', 'São Paulo', NULL]) as city,
        pick({s}, 'ip1', 223) + 1 || '.' || pick({s}, 'ip2', 255) || '.' || pick({s}, 'ip3', 255) || '.'
            || pick({s}, 'ip4', 255) as ip,
        case when session_is_web({s}) then choose({s}, 'ref', ['https://www.google.com/', NULL, 'https://t.co/x',
            'android-app://com.slack']) end as referrer,
        case when session_is_web({s}) then choose({s}, 'lp', ['www.northwind.io/pricing',
            'https://www.northwind.io/', 'app.northwind.io/login', 'www.northwind.io/blog/ünicode-post']) end
            as landing_page,
        case when session_is_web({s}) then choose({s}, 'lpq', [NULL, '?utm_source=google&utm_medium=cpc',
            'ref=producthunt']) end as landing_page_query,
        case when session_is_web({s}) then choose({s}, 'lph', [NULL, NULL, '#top', 'pricing']) end
            as landing_page_hash,
        case when session_is_web({s}) then choose({s}, 'br', ['Chrome', 'Safari', 'Firefox', 'Edge',
            'Samsung Internet']) end as browser,
        null::varchar as search_keyword,
        case when pick({s}, 'utm', 4) = 0 then choose({s}, 'us', ['google', 'newsletter', 'twitter']) end
            as utm_source,
        case when pick({s}, 'utm', 4) = 0 then 'summer_promo' end as utm_campaign,
        case when pick({s}, 'utm', 4) = 0 then choose({s}, 'um', ['cpc', 'email', 'social']) end as utm_medium,
        null::varchar as utm_term,
        null::varchar as utm_content,
        case when not session_is_web({s}) then choose({s}, 'dev', ['iPhone 15', 'Pixel 8', 'Galaxy S24']) end
            as device,
        case when not session_is_web({s}) then choose({s}, 'car', ['Verizon', 'T-Mobile', 'Vodafone']) end
            as carrier,
        case when not session_is_web({s}) then 'Northwind' end as app_name,
        case when not session_is_web({s}) then choose({s}, 'appv', ['4.2.0', '4.3.1']) end as app_version
    """


def _write_events(con: duckdb.DuckDBPyConnection, spec: HeapSampleSpec, chunk_events: int) -> None:
    """Fill the event tables in time order, one chunk of events at a time."""
    # The only whole-history step, narrow: every event's number in the tables' order (time, then event id),
    # so a chunk is a range of its rows. Heap's sync appends in that order.
    con.execute(f"""
        create temp table event_order as
        select i
        from range({spec.events}) as r(i)
        order by {_event_time("i", f"pick(i, 'session', {spec.sessions})")} nulls last, {_event_id("i")}
    """)
    event_rows = f"""
        with raw as (
            select
                i,
                pick(i, 'table', 100) as t,
                pick(i, 'session', {spec.sessions}) as s,
                pick(i, 'offset', 1800) as offset_s
            from event_order
            where {{chunk}}
        )
        select
            raw.i,
            raw.t,
            case
                when raw.t < 50 then 'pageviews'
                when raw.t < 60 then 'signup_click_create_account'
                when raw.t < 70 then 'checkout_complete_purchase'
                when raw.t < 80 then 'app_open_screen'
                when raw.t < 92 then 'search_submit_query'
                else 'intercom_events_conversation_was_closed'
            end as event_table_name,
            {_event_id("raw.i")} as event_id,
            case
                when raw.i % 4999 = 11 then null
                when raw.i % 3001 = 7 then 1000000000000000 + pick(raw.i, 'orphan', 999999)
                else user_id_of(session_user_i(raw.s))
            end as user_id,
            case when raw.i % 997 = 5 then null else session_id_of(raw.s) end as session_id,
            {_event_time("raw.i", "raw.s")} as time,
            raw.offset_s as session_time,
            {_session_context("raw.s")}
        from raw
    """
    statements = _event_table_statements()
    # Empty tables first, with the columns and types the chunks give them.
    con.execute(f"create temp table event_chunk as {event_rows.format(chunk='false')}")
    for table in EVENT_TABLES:
        con.execute(f"create table {table} as {statements[table]} limit 0")
    # ids typed NUMBER(38,0), as the defined event _key_events_pm__plp_visit_collection has them
    con.execute(f"""
        create table all_events as
        select event_id::decimal(38, 0) as event_id, user_id::decimal(38, 0) as user_id,
            session_id::decimal(38, 0) as session_id, time, event_table_name, session_time
        from ({_ALL_EVENTS}) limit 0
    """)
    for first in range(0, spec.events, chunk_events):
        chunk = f"rowid >= {first} and rowid < {first + chunk_events}"
        con.execute(f"create or replace temp table event_chunk as {event_rows.format(chunk=chunk)}")
        for table in EVENT_TABLES:
            con.execute(f"insert into {table} {statements[table]}")
        con.execute(f"insert into all_events {_ALL_EVENTS}")
    con.execute(_VIEWED_PRICING_PAGE)
    con.execute(_KEY_EVENTS)
    con.execute(_REPORT_EXPORT)
    for defined_event in ("viewed_pricing_page", "_key_events_pm__plp_visit_collection"):
        con.execute(
            f"insert into all_events select event_id, user_id, session_id, time, '{defined_event}', null"
            f" from {defined_event}"
        )
    con.execute(_SYNC_INFO)
    con.execute(_SYNC_HISTORY)
    con.execute(_ZONED_TIMES)
    con.execute(_SESSIONS_IN_TIME_ORDER)
    con.execute("drop table event_chunk; drop table event_order; drop table user_seed")


def _event_id(i: str) -> str:
    return f"case when {i} % 5003 = 17 then null else 1000000000000000 + {i} * 1009 + pick({i}, 'eid', 1009) end"


def _event_time(i: str, s: str) -> str:
    """An event's time: its session's start plus an offset, with a few missing and a few far in the future."""
    return f"""
        case
            when {i} % 5009 = 23 then null
            when {i} % 7919 = 31 then timestamp '2099-01-01 00:00:00' + to_seconds({i} % 86400)
            else session_started_at({s}) + to_seconds(pick({i}, 'offset', 1800))
                + to_milliseconds(pick({i}, 'ms', 1000))
        end
    """


def _event_table_statements() -> dict[str, str]:
    """Per event table, the query selecting its rows of the current chunk (event_chunk) in time order."""
    context = """
        library, platform, device_type, country, region, city, ip, referrer, landing_page,
        landing_page_query, landing_page_hash, browser, search_keyword, utm_source, utm_campaign, utm_medium,
        utm_term, utm_content, device, carrier, app_name, app_version
    """
    page = f"""
        case when library = 'web' then choose(i, 'dom', ['www.northwind.io', 'app.northwind.io',
            'https://www.northwind.io']) end as domain,
        case when library = 'web' then choose(i, 'q', [NULL, '?plan=pro', 'plan=pro&ref=nav', '']) end as query,
        case when library = 'web' then choose(i, 'path', ['/pricing', '/signup', 'docs/getting-started', '/',
            '/blog/ünicode-post']) end as path,
        case when library = 'web' then choose(i, 'hash', [NULL, NULL, '#/sso', 'section-2']) end as hash,
        case when library = 'web' then choose(i, 'title', {_sql_list(AWKWARD_TEXT)}) end as title
    """
    # Heap's sync appends in time order
    in_time_order = "order by time nulls last, event_id"
    return {
        "pageviews": f"""
            with pageviews_seed as (
                select i, event_id, user_id, session_id, time, {context}, {page},
                    case when library <> 'web' then choose(i, 'vc', ['HomeViewController', 'CartViewController'])
                        end as view_controller,
                    null::varchar as screen_a11y_id,
                    null::varchar as screen_a11y_label,
                    null::varchar as target_a11y_label,
                    'd' || pick(i, 'dev', 1000000) as heap_device_id,
                    case when pick(i, 'prev', 3) = 0 then '/pricing' end as heap_previous_page,
                    null::varchar as heap_app_name,
                    null::varchar as heap_app_version,
                    null::varchar as heap_device
                from event_chunk
                where event_table_name = 'pageviews'
            )
            select * exclude (i) from pageviews_seed
            -- Heap's sync can deliver a row twice (an exact copy); BigQuery's _raw tables keep such copies
            union all
            select * exclude (i) from pageviews_seed where i % 1000 = 3 and event_id is not null
            {in_time_order}
        """,
        "signup_click_create_account": f"""
            select event_id, user_id, session_id, time, session_time, 'click' as type, {context}, {page},
                'Create account' as target_text,
                choose(i, 'href', ['/signup', NULL]) as href,
                choose(i, 'pto', ['Mac OS X', 'Windows', NULL]) as platform_type_os_,
                choose(i, 'variant', ['A', 'B']) as button_variant
            from event_chunk where event_table_name = 'signup_click_create_account'
            {in_time_order}
        """,
        "checkout_complete_purchase": f"""
            select event_id, user_id, session_id, time, session_time, 'submit' as type, {context}, {page},
                round(rnd(i, 'total') * 900 + 9.99, 2)::double as order_total,
                (1 + pick(i, 'items', 12))::integer as item_count,
                choose(i, 'cur', ['USD', 'EUR', 'JPY']) as currency,
                choose(i, 'coupon', [NULL, NULL, 'SUMMER-24', 'É"quote\\']) as coupon_code,
                pick(i, 'first', 4) = 0 as is_first_order,
                (rnd(i, 'cart') * 1000)::decimal(12, 2) as gtm_cart_data_cart_value
            from event_chunk where event_table_name = 'checkout_complete_purchase'
            {in_time_order}
        """,
        "app_open_screen": f"""
            select event_id, user_id, session_id, time, session_time, 'view' as type, {context},
                choose(i, 'vc', ['HomeViewController', 'SettingsViewController', NULL]) as view_controller,
                choose(i, 'a11y', ['Home', 'Réglages', NULL]) as screen_a11y_label,
                pick(i, 'launch', 2) = 0 as cold_start,
                (pick(i, 'ms', 4000) + 80)::integer as launch_ms
            from event_chunk where event_table_name = 'app_open_screen'
            {in_time_order}
        """,
        "search_submit_query": f"""
            select event_id, user_id, session_id, time, session_time, 'submit' as type, {context}, {page},
                choose(i, 'term', {_sql_list(AWKWARD_TEXT)}) as search_term,
                pick(i, 'results', 200)::integer as results_count,
                rnd(i, 'latency') * 2.5 as latency_seconds
            from event_chunk where event_table_name = 'search_submit_query'
            {in_time_order}
        """,
        # conversation_id typed as Snowflake types every integer (NUMBER(38,0)): an id all the same
        "intercom_events_conversation_was_closed": f"""
            select event_id, user_id, session_id, time, session_time,
                (9000000000000000 + pick(i, 'conv', 999999999))::decimal(38, 0) as conversation_id,
                time + to_seconds(pick(i, 'close', 86400)) as closed_at,
                choose(i, 'status', ['Customer', 'Lead', NULL]) as contact_status__c,
                null::varchar as _email
            from event_chunk where event_table_name = 'intercom_events_conversation_was_closed'
            {in_time_order}
        """,
    }


# A "defined event" in Heap is a view on raw events: these rows share event_ids with pageviews.
_VIEWED_PRICING_PAGE = """
    create table viewed_pricing_page as
    select event_id, user_id, session_id, time, path, domain, title, browser, platform
    from pageviews where path = '/pricing'
"""
# Heap's index of every event (one row per event, not per copy), and of the defined events' rows.
_ALL_EVENTS = (
    "select event_id, user_id, session_id, time, event_table_name, session_time from event_chunk"
)
# Heap names a table after its event's category too: "[Key Events] PM - PLP Visit Collection" lands as
# `_key_events_pm__plp_visit_collection` (a defined event on pageviews, its ids typed NUMBER(38,0) as on
# Snowflake, a collection id typed HUGEINT as a Parquet int128 reads).
_KEY_EVENTS = """
    create table _key_events_pm__plp_visit_collection as
    select event_id::decimal(38, 0) as event_id, user_id::decimal(38, 0) as user_id,
        session_id::decimal(38, 0) as session_id, time, path, domain, title, library, platform,
        (9000000000000000000::hugeint + hash(event_id) % 1000000)::hugeint as collection_id
    from pageviews where path = '/blog/ünicode-post'
"""
# Two events whose names differ by " Raw" ("Report Export" and "Report Export Raw"): both are event tables;
# only a `<name>_raw` under a view `<name>` is Heap's BigQuery twin.
_REPORT_EXPORT = """
    create table report_export as
    select event_id, user_id, session_id, time, 'pdf' as export_format
    from checkout_complete_purchase where currency = 'EUR';
    create table report_export_raw as
    select event_id, user_id, session_id, time, 'csv' as export_format
    from checkout_complete_purchase where currency = 'JPY'
"""
_SYNC_INFO = """
    create table _sync_info as
    select event_table_name, timestamp '2026-07-01 02:00:00' as sync_started,
        timestamp '2026-07-01 02:14:00' as sync_ended, max(time) as synced_to_time,
        count(*) as inserted_row_count
    from all_events group by event_table_name
    order by event_table_name
"""
# Heap Connect's own bookkeeping, beside _sync_info: not events
_SYNC_HISTORY = """
    create table _sync_history as
    select 'succeeded' as status, timestamp '2026-07-01 02:00:00' as start_time,
        timestamp '2026-07-01 02:14:00' as finish_time, null::varchar as error,
        timestamp '2026-07-02 02:00:00' as next_scheduled_sync_at
"""
# Heap's sync appends sessions as they start, like events: in time order, so a reader's time filter skips row groups
_SESSIONS_IN_TIME_ORDER = (
    "create or replace table sessions as select * from sessions order by time, session_id"
)
# Times as a reader of Heap's S3 Avro files gets them (timestamp-millis is an instant: DuckDB reads it WITH
# TIME ZONE), some sessions starting a fraction of a millisecond past their millisecond: the output must not
# depend on the session's time zone, nor round where other warehouses truncate.
_ZONED_TIMES = """
    update sessions set time = time + to_microseconds(999) where session_id % 3 = 0;
    alter table sessions alter time type timestamptz using timezone('UTC', time);
    alter table users alter joindate type timestamptz using timezone('UTC', joindate);
    alter table app_open_screen alter time type timestamptz using timezone('UTC', time);
    alter table intercom_events_conversation_was_closed alter closed_at type timestamptz
        using timezone('UTC', closed_at)
"""
