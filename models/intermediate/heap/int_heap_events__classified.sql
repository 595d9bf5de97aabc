{#
    Every row of every Heap event table with what becomes of it: `emitted` as a PostHog event, `quarantined`
    with the reason it cannot be one, or `skipped` with the reason it is deliberately not sent (table skipped by
    the event map, or a later copy of an event id). Narrow on purpose: no properties, so it is cheap to build
    and to test at any size; int_heap_events__mapped attaches the properties to the emitted rows.

    Built one slice of time at a time (sliced_table): each slice reads its own events, the sessions reaching
    into it, every user (a merge in 2025 moves a 2023 event) and the event ids an earlier slice holds a copy of.
#}
{{ config(
    slice_time='event_at',
    slice_plan=[['stg_heap__events', 'event_at']],
) }}
{#- staging measured the properties only where they may be large (properties_bytes is null elsewhere) -#}
{%- set payload_bytes = posthog_migrate.posthog_payload_bytes('event', 'distinct_id',
    posthog_migrate.json_text_prepend_bytes('properties_bytes', posthog_migrate.heap_event_derived_properties())
) %}

with

events as (

    select
        source_table,
        source_row_locator,
        event_id,
        user_id,
        session_id,
        event_at,
        library,
        properties_bytes,
        refused_number_property,
        domain,
        path,
        query,
        hash,
        landing_page,
        landing_page_query,
        landing_page_hash
    from {{ ref('stg_heap__events') }}
    where {{ posthog_migrate.slice_filter('event_at') }}

),

event_map as (

    select
        lower(heap_table) as heap_table,
        posthog_event,
        mobile_posthog_event,
        action
    from {{ ref('heap_event_map') }}

),

users as (

    select
        user_id,
        distinct_id
    from {{ ref('int_heap_users__resolved') }}

),

sessions as (

    select
        session_id,
        posthog_session_id
    from {{ ref('int_heap_sessions__started') }}
    where {{ posthog_migrate.slice_overlaps('first_event_at', 'last_event_at') }}

),

duplicated as (

    select
        source_table,
        event_id,
        first_event_at
    from {{ ref('int_heap_events__duplicated') }}

),

numbered as (

    -- Heap's sync can deliver a row twice; copies are identical, the first is emitted, the rest skipped. Built a
    -- slice at a time, the first copy may be in an earlier slice. An id delivered once is alone in its window, so
    -- DuckDB numbers only the copies (a quarter less time for the model at 2M events); elsewhere `events` is read
    -- once, as BigQuery evaluates a CTE again for each reference (DECISIONLOG: Heavy models are built in time slices)
    {% if target.type == 'duckdb' -%}
    select
        events.*,
        1 as occurrence_in_slice,
        0 as copies_before_slice
    from events
    left join duplicated
        on events.source_table = duplicated.source_table and events.event_id = duplicated.event_id
    where duplicated.event_id is null

    union all

    {% endif -%}
    select
        events.*,
        row_number() over (
            partition by events.source_table, events.event_id
            order by events.event_at nulls last, events.source_row_locator
        ) as occurrence_in_slice,
        case when {{ posthog_migrate.slice_before('duplicated.first_event_at') }} then 1 else 0 end
            as copies_before_slice
    from events
    {{ 'inner' if target.type == 'duckdb' else 'left' }} join duplicated
        on events.source_table = duplicated.source_table and events.event_id = duplicated.event_id

),

joined as (

    select
        numbered.source_table,
        numbered.source_row_locator,
        numbered.event_id,
        numbered.user_id,
        numbered.event_at,
        numbered.occurrence_in_slice + numbered.copies_before_slice as occurrence,
        numbered.properties_bytes,
        numbered.refused_number_property,
        numbered.domain,
        numbered.path,
        numbered.query,
        numbered.hash,
        numbered.landing_page,
        numbered.landing_page_query,
        numbered.landing_page_hash,
        case
            when lower(numbered.library) in (
                {%- for library in var('heap_mobile_libraries') %}
                {{ posthog_migrate.sql_string(library | lower) }}{{ "," if not loop.last }}
                {%- endfor %}
            ) and nullif(event_map.mobile_posthog_event, '') is not null then event_map.mobile_posthog_event
            else coalesce(nullif(event_map.posthog_event, ''), numbered.source_table)
        end as event,
        coalesce(event_map.action, 'emit') as map_action,
        -- a user id missing from users and user_migrations is its own final user
        case when users.user_id is null then numbered.user_id else users.distinct_id end as distinct_id,
        -- resolved users were checked once each in int_heap_users__resolved; only unknown ids need it here
        case
            when users.user_id is null then {{ posthog_migrate.distinct_id_rejection('numbered.user_id') }}
            when users.distinct_id is null then 'neither its identity nor its id is usable'
        end as distinct_id_rejection,
        sessions.posthog_session_id,
        {{ posthog_migrate.md5_hex("'heap:' || numbered.source_table || ':' || numbered.event_id") }} as uuid_hash
    from numbered
    left join event_map on numbered.source_table = event_map.heap_table
    left join users on numbered.user_id = users.user_id
    left join sessions on numbered.session_id = sessions.session_id

),

checked as (

    select
        *,
        case
            when event_id is null then 'no event_id, so no stable uuid'
            when user_id is null then 'no user_id, so no person'
            when event_at is null then 'no time'
            when ({{ posthog_migrate.posthog_time_rejection('event_at') }}) is not null
                then {{ posthog_migrate.posthog_time_rejection('event_at') }}
            when event_at > {{ posthog_migrate.posthog_future_limit() }}
                then 'time more than 23 hours in the future: PostHog would move it to the load time'
            when distinct_id_rejection is not null
                then 'no usable distinct id: user id ' || user_id || ' is ' || distinct_id_rejection
            when refused_number_property is not null
                then {{ posthog_migrate.refused_number_reason('refused_number_property') }}
            when {{ payload_bytes }} > {{ posthog_migrate.posthog_max_event_bytes() }}
                then {{ posthog_migrate.payload_too_large_reason() }}
        end as quarantine_reason
    from joined

),

final as (

    select
        ----------  ids
        {{ posthog_migrate.uuid_from_md5_hex('uuid_hash') }} as uuid,
        source_table,
        source_row_locator,
        event_id as source_row_id,

        ----------  the PostHog event
        event,
        distinct_id,
        event_at,
        posthog_session_id,

        ----------  outcome
        case
            when map_action = 'skip' then 'skipped'
            when quarantine_reason is not null then 'quarantined'
            when occurrence > 1 then 'skipped'
            else 'emitted'
        end as row_status,
        case
            when map_action = 'skip' then 'table skipped by the heap_event_map seed'
            when quarantine_reason is not null then quarantine_reason
            when occurrence > 1 then 'duplicate row of an event_id already emitted'
        end as status_reason

    from checked

)

select * from final
{% if target.type == 'duckdb' -%}
-- DuckDB skips row groups by their min/max: in time order, each loader window reads only its own
order by event_at
{%- endif %}
