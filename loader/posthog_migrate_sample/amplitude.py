"""Generate an Amplitude export: the Export API's zip of hourly gzipped JSON-lines files, and optionally the same
events as Amplitude's warehouse export tables (EVENTS_<project_id>, MERGE_IDS_<project_id>) in DuckDB.

Rows are computed in DuckDB SQL from row numbers and `hash()`, written by DuckDB's COPY (one gzipped file per
upload hour), and zipped with the layout the Export API uses: `<project_id>/<project_id>_<date>_<hour>#0.json.gz`.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

# os_version values the PostHog guide's script crashes on (it casts them to int).
BROWSER_VERSIONS = ("126", "125.0.6422.142", "17.5", "unknown", "")
WEB_OSES = ("Mac OS X", "Windows", "Linux", "Chrome OS", "iOS", "Android")
TITLES = (
    "Pricing – Northwind",  # noqa: RUF001 (an en dash, as real titles have)
    'The "best" plan',
    "料金プラン 🚀",
    "line one\nline two",
    "C:\\reports\\q3.pdf",
)


@dataclass(frozen=True)
class AmplitudeSampleSpec:
    events: int
    project_id: int = 609539
    seed: int = 7
    end_date: date = date(2026, 6, 30)
    days: int = 120

    @property
    def devices(self) -> int:
        return max(50, self.events // 15)

    @property
    def users(self) -> int:
        return max(20, self.events // 40)


def generate_amplitude_sample(
    spec: AmplitudeSampleSpec,
    export_zip: Path | None,
    con: duckdb.DuckDBPyConnection | None = None,
    warehouse_schema: str = "amplitude",
) -> dict[str, int]:
    """Write the export zip (if `export_zip`) and the warehouse export tables (if `con`); return counts."""
    work = duckdb.connect()
    try:
        for statement in _event_statements(spec):
            work.execute(statement)
        work.execute(_export_lines_sql(work))
        for statement in _FOLLOW_UP_STATEMENTS:
            work.execute(statement)
        counts = {
            "events": work.execute("select count(*) from export_lines").fetchone()[0],
            "merge_ids": work.execute("select count(*) from merge_ids").fetchone()[0],
        }
        if export_zip is not None:
            counts["export files"] = _write_export_zip(work, spec, export_zip)
        if con is not None:
            _write_warehouse_tables(work, con, spec, warehouse_schema)
        return counts
    finally:
        work.close()


def _export_lines_sql(work: duckdb.DuckDBPyConnection) -> str:
    """Each event as the JSON line Amplitude writes: every key present, null when empty."""
    columns = [
        name
        for (name,) in work.execute(
            "select column_name from (describe export_rows) where column_name not in ('file_hour', 'upload_order')"
        ).fetchall()
    ]
    fields = ", ".join("'" + name + "': \"" + name + '"' for name in columns)
    return (
        "create table export_lines as select file_hour, upload_order, "
        f"cast(to_json({{{fields}}}) as varchar) as line from export_rows"
    )


def _write_export_zip(
    work: duckdb.DuckDBPyConnection, spec: AmplitudeSampleSpec, target: Path
) -> int:
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="amplitude-export-"))
    try:
        # One gzipped JSON-lines file per upload hour, as the Export API delivers them.
        work.execute(
            f"copy (select file_hour, line from export_lines order by file_hour, upload_order) "
            f"to '{staging}' (format csv, header false, quote '', escape '', delimiter '\x1f', "
            f"compression gzip, partition_by (file_hour), file_extension 'json.gz')"
        )
        files = sorted(staging.glob("file_hour=*/*.json.gz"))
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED) as archive:
            for path in files:
                hour = path.parent.name.removeprefix("file_hour=").replace("%20", " ")
                day, clock = hour.split(" ")[0], int(hour.split(" ")[1][:2])
                name = f"{spec.project_id}/{spec.project_id}_{day}_{clock}#0.json.gz"
                archive.write(path, name)
        return len(files)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_warehouse_tables(
    work: duckdb.DuckDBPyConnection,
    con: duckdb.DuckDBPyConnection,
    spec: AmplitudeSampleSpec,
    schema: str,
) -> None:
    events = work.sql(
        "select * exclude (file_hour, upload_order) from export_rows"
    ).to_arrow_table()
    merges = work.sql("select * from merge_ids").to_arrow_table()
    con.execute(f"drop schema if exists {schema} cascade")
    con.execute(f"create schema {schema}")
    con.register("events_arrow", events)
    con.register("merges_arrow", merges)
    json_columns = (
        "event_properties",
        "user_properties",
        "group_properties",
        "groups",
        "data",
        "plan",
    )
    time_columns = (
        "event_time", "client_event_time", "client_upload_time", "server_received_time",
        "server_upload_time", "processed_time", "user_creation_time",
    )  # fmt: skip
    select = ", ".join(
        f"cast({name} as json) as {name}"
        if name in json_columns
        else f"cast({name} as timestamp) as {name}"
        if name in time_columns
        else f'"{name}"'
        for name in events.column_names
        if name != "$insert_id"  # the warehouse export has no $insert_id column
    )
    con.execute(
        f"create table {schema}.EVENTS_{spec.project_id} as select {select} from events_arrow"
    )
    con.execute(f"create table {schema}.MERGE_IDS_{spec.project_id} as select * from merges_arrow")
    con.unregister("events_arrow")
    con.unregister("merges_arrow")


def _event_statements(spec: AmplitudeSampleSpec) -> list[str]:
    seed = spec.seed
    end_ts = f"timestamp '{spec.end_date.isoformat()} 00:00:00'"
    span = spec.days * 86400
    quoted = lambda values: "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"  # noqa: E731
    # the importer-shaped lines fall inside the sample's days: 29 days before its end (2026-06-01 by default)
    edge_date = spec.end_date - dt.timedelta(days=min(29, spec.days - 1))
    edge_day = edge_date.isoformat()
    edge_start = dt.datetime(edge_date.year, edge_date.month, edge_date.day, 10, tzinfo=dt.UTC)
    edge_session_us = int(edge_start.timestamp()) * 1_000_000
    return [
        f"""
        create macro rnd(i, salt) as (hash(i, {seed}, salt) % 1000000) / 1000000.0;
        create macro pick(i, salt, n) as (hash(i, {seed}, salt) % n)::bigint;
        create macro choose(i, salt, options) as options[1 + pick(i, salt, len(options))];
        create macro ts_text(t) as strftime(t, '%Y-%m-%d %H:%M:%S.%f');
        """,
        # Devices: web (browser cookie ids) or mobile (IDFV-like ids); each belongs to a user who may log in.
        f"""
        create table devices as
        select
            d,
            md5('device' || d || '{seed}')[1:8] || '-' || md5('device' || d || '{seed}')[9:12] || '-4'
                || md5('device' || d || '{seed}')[14:16] || '-a' || md5('device' || d || '{seed}')[18:20] || '-'
                || md5('device' || d || '{seed}')[21:32] as device_id,
            pick(d, 'kind', 10) < 6 as is_web,
            pick(d, 'user', {spec.users}) as user_i,
            -- a shared computer: a second user logs in on it later
            case when d % 23 = 0 then pick(d, 'user2', {spec.users}) end as second_user_i,
            1000000000000 + d * 7919 as device_amplitude_id
        from range({spec.devices}) as r(d)
        """,
        f"""
        create table users as
        select
            u,
            case
                when u % 50 = 7 then choose(u, 'illegal', ['null', 'anonymous', '0', 'undefined'])
                when u % 3 = 0 then 'u' || (100000 + u)
                else 'user' || u || '@northwind.io'
            end as user_id,
            2000000000000 + u * 104729 as user_amplitude_id,
            choose(u, 'plan', ['free', 'pro', 'enterprise']) as plan
        from range({spec.users}) as r(u)
        """,
        # Each event: a device, a session (epoch ms of its start), a moment; some rows log the user in.
        f"""
        create table raw_events as
        with base as (
            select
                i,
                pick(i, 'device', {spec.devices}) as d,
                {end_ts} - to_seconds({span}) + to_seconds(pick(i, 'session', {span} // 1800) * 1800)
                    as session_start,
                pick(i, 'offset', 1700) as offset_s,
                pick(i, 'type', 100) as t
            from range({spec.events}) as r(i)
        )
        select
            base.*,
            devices.device_id,
            devices.is_web,
            devices.device_amplitude_id,
            case when base.i % 2 = 0 or devices.second_user_i is null then devices.user_i
                 else devices.second_user_i end as user_i,
            -- the user is known on a third of the device's events (after login)
            pick(base.i, 'logged_in', 3) = 0 or base.t >= 96 as logged_in,
            base.session_start + to_seconds(base.offset_s) + to_microseconds(pick(base.i, 'us', 1000000))
                as event_time
        from base
        join devices on devices.d = base.d
        """,
        f"""
        create table export_rows as
        select
            case
                when i % 997 = 3 then null
                when i % 991 = 5 then 'not-a-uuid-' || i
                else md5('event' || i || '{seed}')[1:8] || '-' || md5('event' || i || '{seed}')[9:12] || '-1'
                    || md5('event' || i || '{seed}')[14:16] || '-8' || md5('event' || i || '{seed}')[18:20] || '-'
                    || md5('event' || i || '{seed}')[21:32]
            end as uuid,
            'ins-' || md5('insert' || i || '{seed}') as "$insert_id",
            (i % 500)::bigint as event_id,
            case
                when t < 35 and is_web then '[Amplitude] Page Viewed'
                when t < 45 and is_web then '[Amplitude] Element Clicked'
                when t < 50 and is_web then '[Amplitude] Element Changed'
                when t < 45 then 'Screen Viewed'
                when t < 55 then 'session_start'
                when t < 58 then 'session_end'
                when t < 70 then 'Search Performed'
                when t < 78 then 'Subscription Started'
                when t < 84 then 'revenue_amount'
                when t < 88 then '[Amplitude] Start Session'
                when t < 92 then '$groupidentify'
                else '$identify'
            end as event_type,
            case when i % 211 = 9 then null else ts_text(event_time) end as event_time,
            ts_text(event_time - to_milliseconds(pick(i, 'skew', 900))) as client_event_time,
            ts_text(event_time + to_milliseconds(300)) as client_upload_time,
            ts_text(event_time + to_milliseconds(400)) as server_received_time,
            -- late events: uploaded hours or days after they happened (the export selects by upload time)
            ts_text(event_time + case when i % 37 = 1 then to_hours(1 + pick(i, 'late', 72))
                                     else to_milliseconds(420) end) as server_upload_time,
            ts_text(event_time + to_seconds(6)) as processed_time,
            case
                when i % 1499 = 11 then null
                when logged_in then users.user_id
                when i % 1009 = 13 then ''
            end as user_id,
            case when i % 1499 = 11 then null else device_id end as device_id,
            case when logged_in then users.user_amplitude_id else device_amplitude_id end as amplitude_id,
            case when t between 50 and 57 or i % 53 = 2 then -1 else epoch_ms(session_start) end as session_id,
            {spec.project_id} as app,
            case when is_web then 'Web' when pick(d, 'mos', 2) = 0 then 'iOS' else 'Android' end as platform,
            case when is_web then choose(d, 'browser', ['Chrome', 'Safari', 'Firefox', 'Edge'])
                 when pick(d, 'mos', 2) = 0 then 'ios' else 'android' end as os_name,
            case when is_web then choose(d, 'bv', {quoted(BROWSER_VERSIONS)})
                 when pick(d, 'mos', 2) = 0 then choose(d, 'iv', ['17.5.1', '16.7'])
                 else choose(d, 'av', ['14', '13']) end as os_version,
            case when is_web then choose(d, 'os', {quoted(WEB_OSES)})
                 when pick(d, 'mos', 2) = 0 then 'iPhone 15' else 'Pixel 8' end as device_type,
            case when is_web then choose(d, 'os', {quoted(WEB_OSES)})
                 when pick(d, 'mos', 2) = 0 then 'Apple iPhone' else 'Google Pixel' end as device_family,
            case when not is_web then case when pick(d, 'mos', 2) = 0 then 'Apple' else 'Google' end end
                as device_brand,
            case when not is_web then case when pick(d, 'mos', 2) = 0 then 'Apple' else 'Google' end end
                as device_manufacturer,
            case when not is_web then case when pick(d, 'mos', 2) = 0 then 'iPhone16,1' else 'Pixel 8' end end
                as device_model,
            case when not is_web then choose(d, 'carrier', ['Verizon', 'T-Mobile', 'Vodafone']) end
                as device_carrier,
            choose(d, 'country', ['United States', 'Germany', 'Japan', 'Brazil']) as country,
            choose(d, 'region', ['California', 'Berlin', 'Tokyo', 'São Paulo']) as region,
            choose(d, 'city', ['San Francisco', 'Berlin', '東京', 'São Paulo']) as city,
            null::varchar as dma,
            (pick(d, 'ip1', 223) + 1) || '.' || pick(d, 'ip2', 255) || '.' || pick(d, 'ip3', 255) || '.'
                || pick(d, 'ip4', 255) as ip_address,
            choose(d, 'lang', ['en-US', 'de-DE', 'ja-JP']) as language,
            case when is_web then 'amplitude-ts/2.11.1' else 'amplitude-swift/1.4.0' end as library,
            case when not is_web then '4.2.0' end as version_name,
            null::varchar as start_version,
            null::double as location_lat,
            null::double as location_lng,
            null::varchar as paying,
            null::varchar as idfa,
            null::varchar as adid,
            case
                when event_type = '[Amplitude] Page Viewed' then json_object(
                    '[Amplitude] Page Domain', 'www.northwind.io',
                    '[Amplitude] Page Path', choose(i, 'path', ['/pricing', '/signup', '/blog/ünicode']),
                    '[Amplitude] Page URL', 'https://www.northwind.io' || choose(i, 'path', ['/pricing', '/signup',
                        '/blog/ünicode']),
                    '[Amplitude] Page Location', 'https://www.northwind.io' || choose(i, 'path', ['/pricing',
                        '/signup', '/blog/ünicode']) || '?utm_source=google',
                    '[Amplitude] Page Title', choose(i, 'title', {quoted(TITLES)}),
                    '[Amplitude] Page Counter', 1 + pick(i, 'counter', 9),
                    'referrer', 'https://www.google.com/',
                    'referring_domain', 'www.google.com',
                    'utm_source', 'google')
                when event_type in ('[Amplitude] Element Clicked', '[Amplitude] Element Changed') then json_object(
                    '[Amplitude] Element Tag', 'button',
                    '[Amplitude] Element Text', choose(i, 'text', ['Create account', 'Buy', 'Ünïcode']),
                    '[Amplitude] Element Hierarchy', json('[{{"tag":"button","index":0}},{{"tag":"div","index":2}}]'),
                    '[Amplitude] Viewport Height', 900,
                    '[Amplitude] Viewport Width', 1440,
                    '[Amplitude] Page URL', 'https://www.northwind.io/pricing')
                when event_type = 'Search Performed' then json_object(
                    'query', choose(i, 'q', {quoted(TITLES)}), 'results', pick(i, 'results', 50),
                    'filters', json_object('category', 'docs', 'exact', pick(i, 'exact', 2) = 0))
                when event_type = 'Subscription Started' then json_object(
                    'plan', users.plan, 'billing_period', 'annual', 'seats', 1 + pick(i, 'seats', 40))
                when event_type = 'revenue_amount' then json_object(
                    '$revenue', round(rnd(i, 'rev') * 500, 2), '$price', 49.0, '$quantity', 1 + pick(i, 'qty', 3),
                    '$productId', 'plan_pro', '$revenueType', 'subscription')
                when event_type = 'Screen Viewed' then json_object('screen', choose(i, 'screen', ['Home', 'Cart']))
                else json_object()
            end as event_properties,
            -- Amplitude leaves out keys it has no value for
            case when logged_in or i % 5 = 0 then json_merge_patch('{{}}', json_object(
                'initial_referrer', case when i % 4 = 0 then 'EMPTY' else 'https://www.google.com/' end,
                'initial_referring_domain', case when i % 4 = 0 then 'EMPTY' else 'www.google.com' end,
                'initial_utm_source', case when i % 3 = 0 then 'EMPTY' else 'google' end,
                'initial_utm_campaign', 'EMPTY',
                'plan', case when logged_in then users.plan end,
                'email', case when logged_in and users.user_id like '%@%' then users.user_id end,
                'seats', case when logged_in then 1 + pick(i, 'useats', 40) end))
            else json_object() end as user_properties,
            -- group type -> group key -> the group's properties, as PostHog's importer reads them
            case when event_type in ('Subscription Started', '$groupidentify') then json_object(
                'company', json_object('acct_' || (users.u % 97), json_object(
                    'name', 'Account ' || (users.u % 97), 'plan', users.plan, 'seats', 1 + pick(i, 'gseats', 200))))
                else json_object() end as group_properties,
            case when event_type in ('Subscription Started', '$groupidentify') then json_object(
                'company', json_array('acct_' || (users.u % 97)))
                else json_object() end as groups,
            json_object('path', '/2/httpapi', 'user_properties_updated', logged_in) as data,
            json_object() as plan,
            ts_text(event_time - to_days(30)) as user_creation_time,
            raw_events.i
        from raw_events
        join users on users.u = raw_events.user_i
        """,
        # Lines shaped like the ones PostHog's own importer is tested on (rust/batch-import-worker): uuids in the other
        # forms Uuid::parse_str accepts, lines with no uuid and missing parts, device clocks in the future (PR
        # #56079), a session id in microseconds, event_properties that is not an object.
        f"""
        insert into export_rows by name
        with edge as (
            select * from (values
                (-1, '5F0C3C1E8D0A4B8E9E3A0F1D2C3B4A59', 'edge@northwind.io', 'dev-edge-1', 1::bigint,
                 '{edge_day} 10:00:00.000000', '{edge_day} 09:59:59.500000', '{edge_day} 10:00:00.400000', -1::bigint),
                (-2, '{{9A1B2C3D-0000-4000-8000-0000000000E2}}', 'edge@northwind.io', 'dev-edge-2', 2,
                 '{edge_day} 10:01:00.000000', '{edge_day} 10:00:59.500000', '{edge_day} 10:01:00.400000', -1),
                (-3, 'urn:uuid:9a1b2c3d-0000-4000-8000-0000000000e3', 'edge@northwind.io', 'dev-edge-3', 3,
                 '{edge_day} 10:02:00.000000', '{edge_day} 10:01:59.500000', '{edge_day} 10:02:00.400000', -1),
                (-4, null, 'no-device@northwind.io', null, null,
                 '{edge_day} 10:03:00.000000', null, '{edge_day} 10:03:00.400000', -1),
                (-5, null, null, 'dev-edge-5', null,
                 '{edge_day} 10:04:00.000000', null, '{edge_day} 10:04:00.400000', -1),
                (-6, '9a1b2c3d-0000-4000-8000-0000000000e6', 'edge@northwind.io', 'dev-edge-6', 6,
                 '2099-03-01 00:00:00.000000', '2099-03-01 00:00:00.000000', '{edge_day} 10:05:00.400000', -1),
                (-7, '9a1b2c3d-0000-4000-8000-0000000000e7', 'edge@northwind.io', 'dev-edge-7', 7,
                 null, '2099-03-01 00:00:00.000000', '{edge_day} 10:06:00.400000', -1),
                (-8, '9a1b2c3d-0000-4000-8000-0000000000e8', 'edge@northwind.io', 'dev-edge-8', 8,
                 '2099-03-01 00:00:00.000000', '2099-03-01 00:00:00.000000', '2099-03-01 00:00:00.400000', -1),
                (-9, '9a1b2c3d-0000-4000-8000-0000000000e9', 'edge@northwind.io', 'dev-edge-9', 9,
                 '{edge_day} 10:08:00.000000', '{edge_day} 10:07:59.500000', '{edge_day} 10:08:00.400000', -1),
                (-10, '9a1b2c3d-0000-4000-8000-0000000000ea', 'edge@northwind.io', 'dev-edge-10', 10,
                 '{edge_day} 10:09:00.000000', '{edge_day} 10:08:59.500000', '{edge_day} 10:09:00.400000',
                 {edge_session_us})
            ) as lines(i, uuid, user_id, device_id, event_id, event_time, client_event_time, server_received_time,
                       session_id)
        )
        select
            i, uuid, 'ins-edge' || i as "$insert_id", event_id, 'Search Performed' as event_type, event_time,
            client_event_time, server_received_time, '{edge_day} 10:10:00.000000' as server_upload_time, user_id,
            device_id, session_id, 'Web' as platform, 'Chrome' as os_name, '126' as os_version,
            'Mac OS X' as device_type, 'Mac OS X' as device_family, 'Germany' as country, 'Berlin' as region,
            'Berlin' as city,
            case when i = -9 then json('["not", "an", "object"]')
                 else json_object('query', 'edge line ' || i) end as event_properties,
            json_object() as user_properties, json_object() as group_properties, json_object() as groups,
            json_object() as data, json_object() as plan
        from edge
        """,
        # Amplitude re-delivers some events in a later file (a backfill): same uuid and $insert_id.
        """
        create table export_rows_with_copies as
        select *, 0 as copy from export_rows
        union all
        select * replace (strftime(strptime(server_upload_time, '%Y-%m-%d %H:%M:%S.%f') + interval 26 hour,
                                   '%Y-%m-%d %H:%M:%S.%f') as server_upload_time), 1 as copy
        from export_rows where i % 211 = 17
        """,
        """
        create or replace table export_rows as
        select
            * exclude (i, copy),
            strftime(date_trunc('hour', strptime(server_upload_time, '%Y-%m-%d %H:%M:%S.%f')), '%Y-%m-%d %H')
                as file_hour,
            row_number() over (order by server_upload_time, i, copy) as upload_order
        from export_rows_with_copies
        """,
    ]


_FOLLOW_UP_STATEMENTS = (
    # A malformed line, as a truncated upload would leave it.
    """
    insert into export_lines
    select file_hour, upload_order + 1, '{"uuid": "truncated-line", "event_type": "Page Vie'
    from export_rows order by upload_order limit 1
    """,
    # MERGE_IDS: a device's amplitude id merged into the first user's who logged in on it.
    """
    create table merge_ids as
    select
        device_amplitude_id as amplitude_id,
        arg_min(users.user_amplitude_id, event_time) as merged_amplitude_id,
        min(event_time) as merge_event_time,
        min(event_time) + interval 1 second as merge_server_time
    from raw_events
    join users on users.u = raw_events.user_i
    where logged_in
    group by device_amplitude_id
    """,
)
