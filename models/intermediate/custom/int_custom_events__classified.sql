{#-
    Every row of the custom events relation with what becomes of it: capture messages `emitted` as PostHog events,
    identify and alias messages `skipped` (folded into persons and aliases), copies of an emitted row `skipped`,
    and rows that cannot be sent `quarantined` with the reason. Also the person and identity parts of each row.
-#}
{%- set canonical_uuid = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' %}
{%- set payload_bytes = posthog_migrate.posthog_payload_bytes(
    'event_name', 'distinct_id', posthog_migrate.byte_length('event_properties')
) %}

with

events as (

    select * from {{ ref('stg_custom__events') }}

),

typed as (

    select
        *,
        -- Segment's and RudderStack's track, page and screen calls are capture messages
        case
            when message_type is null or message_type in ('capture', 'track', 'page', 'screen') then 'capture'
            else message_type
        end as kind,
        coalesce(
            nullif(event, ''),
            case message_type when 'page' then '$pageview' when 'screen' then '$screen' end
        ) as event_name,
        coalesce(properties is null or {{ posthog_migrate.is_json_object('properties') }}, false)
            as properties_are_an_object,
        case
            when {{ posthog_migrate.regex_matches('lower(source_uuid)', canonical_uuid) }} then lower(source_uuid)
        end as valid_source_uuid
    from events

),

with_person_parts as (

    select
        *,
        coalesce(
            set_column,
            case when properties_are_an_object then {{ posthog_migrate.json_text_member('properties', '$set') }} end
        ) as set_candidate,
        coalesce(
            set_once_column,
            case
                when properties_are_an_object then {{ posthog_migrate.json_text_member('properties', '$set_once') }}
            end
        ) as set_once_candidate,
        coalesce(
            alias,
            case when properties_are_an_object then {{ posthog_migrate.json_text_get('properties', 'alias') }} end
        ) as alias_candidate,
        case
            when properties_are_an_object then {{ posthog_migrate.json_text_get('properties', '$anon_distinct_id') }}
        end as anon_distinct_id
    from typed

),

keyed as (

    -- the row's own uuid, else one from its row id, else one from its content (DECISIONLOG: Event uuids are UUIDv8)
    select
        *,
        coalesce(
            valid_source_uuid,
            {{ posthog_migrate.uuid_from_md5_hex(posthog_migrate.md5_hex(
                "'custom:' || source_table || ':' || source_row_id"
            )) }},
            {{ posthog_migrate.uuid_from_md5_hex(posthog_migrate.md5_hex(dbt.concat([
                "'custom:'", 'source_table', "':'", 'kind', "':'", "coalesce(event_name, '')", "':'",
                "coalesce(distinct_id, '')", "':'",
                "coalesce(" ~ posthog_migrate.iso8601_utc('event_at') ~ ", timestamp_text, '')", "':'",
                "coalesce(properties, '')",
            ]))) }}
        ) as uuid
    from with_person_parts

),

built as (

    -- a capture message's event properties as sent: person updates go to posthog_persons, the loader's IP is not
    -- the user's
    select
        *,
        case
            when kind = 'capture' and properties_are_an_object
                then {{ posthog_migrate.json_text_rename_and_set(
                    posthog_migrate.json_text_without_keys("coalesce(properties, '{}')", ['$set', '$set_once']),
                    [],
                    [['$geoip_disable', 'true']]
                ) }}
        end as event_properties
    from keyed

),

checked as (

    select
        *,
        case
            when kind not in ('capture', 'identify', 'alias')
                then 'message type ' || message_type || ' is not capture, identify or alias'
            when {{ posthog_migrate.distinct_id_rejection('distinct_id') }} is not null
                then 'no usable distinct_id: it is ' || {{ posthog_migrate.distinct_id_rejection('distinct_id') }}
            when timestamp_text is null then 'no timestamp'
            when event_at is null
                then
                    'timestamp ' || timestamp_text
                    || ' is not a time (ISO 8601 with or without a zone, or Unix epoch seconds or milliseconds)'
            when ({{ posthog_migrate.posthog_time_rejection('event_at') }}) is not null
                then {{ posthog_migrate.posthog_time_rejection('event_at') }}
            when event_at > {{ posthog_migrate.posthog_future_limit() }}
                then 'time more than 23 hours in the future: PostHog would move it to the load time'
            when not properties_are_an_object then 'properties is not a JSON object'
            when {{ posthog_migrate.json_text_has_refused_number('properties') }}
                then {{ posthog_migrate.refused_number_reason() }}
            when kind = 'capture' and event_name is null then 'no event name'
            when kind = 'capture' and {{ payload_bytes }} > {{ posthog_migrate.posthog_max_event_bytes() }}
                then {{ posthog_migrate.payload_too_large_reason() }}
            when kind = 'alias' and {{ posthog_migrate.distinct_id_rejection('alias_candidate') }} is not null
                then
                    'alias message without a usable alias: it is '
                    || {{ posthog_migrate.distinct_id_rejection('alias_candidate') }}
        end as quarantine_reason
    from built

),

numbered as (

    -- a relation can hold a message twice (a re-sync, a retried load): the first sendable copy is emitted
    select
        *,
        row_number() over (
            partition by uuid, quarantine_reason is null order by event_at, source_row_id, timestamp_text, properties
        ) as occurrence
    from checked

),

final as (

    select
        ----------  ids
        uuid,
        source_table,
        source_row_id,

        ----------  the PostHog event
        event_name as event,
        distinct_id,
        event_at,
        case
            when quarantine_reason is null and kind = 'capture' and occurrence = 1 then event_properties
        end as properties,

        ----------  what the row says about people
        kind as message_kind,
        case
            when quarantine_reason is null and {{ posthog_migrate.is_json_object('set_candidate') }}
                then set_candidate
        end as set_properties,
        case
            when quarantine_reason is null and {{ posthog_migrate.is_json_object('set_once_candidate') }}
                then set_once_candidate
        end as set_once_properties,
        case when quarantine_reason is null and kind = 'alias' then alias_candidate end as alias,
        case when quarantine_reason is null and kind = 'identify' then anon_distinct_id end as anon_distinct_id,

        ----------  outcome
        case
            when quarantine_reason is not null then 'quarantined'
            when kind in ('identify', 'alias') then 'skipped'
            when occurrence > 1 then 'skipped'
            else 'emitted'
        end as row_status,
        case
            when quarantine_reason is not null then quarantine_reason
            when kind = 'identify' then 'identify message: folded into posthog_persons and posthog_aliases'
            when kind = 'alias' then 'alias message: folded into posthog_aliases'
            when occurrence > 1 then 'duplicate of a row already emitted (same uuid)'
        end as status_reason

    from numbered

)

select * from final
