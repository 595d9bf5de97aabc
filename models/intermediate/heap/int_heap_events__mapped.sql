{#
    Every Heap event row with what becomes of it: emitted as a PostHog event, quarantined (with the reason), or
    skipped (with the reason). Materialized as a table because it is the one full pass over the source; the
    contract views and every test read it.
#}
{{ config(enabled=var('heap_enabled'), materialized='table') }}

with

events as (

    select * from {{ ref('stg_heap__events') }}

),

event_map as (

    select lower(heap_table) as heap_table, posthog_event, action
    from {{ ref('heap_event_map') }}

),

users as (

    select user_id, distinct_id from {{ ref('int_heap_users__resolved') }}

),

sessions as (

    select session_id, posthog_session_id from {{ ref('int_heap_sessions__started') }}

),

numbered as (

    select
        events.*,
        row_number() over (
            partition by events.source_table, events.event_id order by events.event_at, events.properties
        ) as occurrence
    from events

),

joined as (

    select
        numbered.source_table,
        numbered.event_id,
        numbered.user_id,
        numbered.event_at,
        numbered.properties,
        numbered.occurrence,
        coalesce(nullif(event_map.posthog_event, ''), numbered.source_table) as event,
        coalesce(event_map.action, 'emit') as map_action,
        -- a user id missing from users and user_migrations is its own final user
        case when users.user_id is null then numbered.user_id else users.distinct_id end as distinct_id,
        sessions.posthog_session_id,
        coalesce(
            {{ posthog_migrate.url_from_parts('numbered.domain', 'numbered.path', 'numbered.query', 'numbered.hash') }},
            {{ posthog_migrate.url_from_parts(
                'numbered.landing_page', 'null', 'numbered.landing_page_query', 'numbered.landing_page_hash'
            ) }}
        ) as current_url,
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
            when event_at > {{ posthog_migrate.posthog_future_limit() }}
                then 'time more than 23 hours in the future: PostHog would move it to the load time'
            when {{ posthog_migrate.distinct_id_rejection('distinct_id') }} is not null
                then 'no usable distinct id: user id ' || user_id || ' is '
                || {{ posthog_migrate.distinct_id_rejection('distinct_id') }}
            when {{ posthog_migrate.text_bytes('properties') }} > {{ posthog_migrate.max_properties_bytes() }}
                then 'properties over the PostHog per-event size limit'
        end as quarantine_reason
    from joined

),

classified as (

    select
        *,
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

),

final as (

    select
        ----------  ids
        {{ posthog_migrate.uuid_from_md5_hex('uuid_hash') }} as uuid,
        source_table,
        event_id as source_row_id,

        ----------  the PostHog event
        event,
        distinct_id,
        event_at,
        case
            when row_status = 'emitted' then {{ posthog_migrate.json_text_prepend('properties', [
                ['$current_url', posthog_migrate.json_quote('current_url')],
                ['$session_id', posthog_migrate.json_quote('posthog_session_id')],
                ['$geoip_disable', "'true'"],
            ]) }}
            else properties
        end as properties,

        ----------  outcome
        row_status,
        status_reason

    from classified

)

select * from final
