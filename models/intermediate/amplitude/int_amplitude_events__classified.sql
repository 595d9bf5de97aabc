{#
    Every Amplitude event row with what becomes of it: `emitted` as a PostHog event (with its properties),
    `quarantined` with the reason it cannot be one, or `skipped` with the reason it is deliberately not sent
    (event type skipped or folded into persons or groups by the amplitude_event_map seed, or a re-delivered copy).
    The rules follow PostHog's own importer (rust/batch-import-worker, parse/content/amplitude.rs) where it has one.
#}
-- depends_on: {{ ref('amplitude_field_map') }}
-- depends_on: {{ ref('amplitude_event_property_map') }}
-- depends_on: {{ ref('posthog_name_catalog') }}

{%- set field_pairs = posthog_migrate.amplitude_field_pairs(
    posthog_migrate.amplitude_field_map_rows(), 'platform'
) %}
{%- set renames = [] %}
{%- for rule in posthog_migrate.amplitude_event_property_map_rows() %}
{%- do renames.append([rule['amplitude_property'], rule['posthog_property'], rule['keep_original']]) %}
{%- endfor %}
{#- event properties never take a PostHog meaning unless a mapping row gives it: `$set` becomes `amplitude_$set` -#}
{%- set reserved_renames = posthog_migrate.reserved_name_renames(
    posthog_migrate.posthog_reserved_names('event_property'), renames | map(attribute=0) | list, 'amplitude_'
) %}
{%- set reserved_keys = reserved_renames | map(attribute=0) | list %}
{%- set session_uuid = posthog_migrate.uuid_v7('session_id', posthog_migrate.md5_hex(
    "'amplitude:session:' || device_id || ':' || cast(session_id as " ~ dbt.type_string() ~ ")"
)) %}
{%- set payload_bytes = posthog_migrate.posthog_payload_bytes(
    'event', 'distinct_id', posthog_migrate.byte_length('properties')
) %}
{%- set file_and_line = posthog_migrate.amplitude_export_file_name('source_file')
    ~ " || ':' || cast(source_line as " ~ dbt.type_string() ~ ")" %}
{%- set no_usable_time = 'no usable time: event_time and client_event_time are missing or in the future, and '
    ~ 'server_received_time is more than 23 hours ahead (PostHog would move it to the load time)' %}

with

events as (

    select * from {{ ref('stg_amplitude__events') }}

),

event_map as (

    select
        amplitude_event_type,
        posthog_event,
        action
    from {{ ref('amplitude_event_map') }}

),

identified as (

    select
        events.*,
        -- event_time is Amplitude's best estimate, then the client's clock; a time in the future (a device clock
        -- set wrong) is skipped for the server's, as PostHog's importer does (its PR #56079)
        case
            when events.occurred_at <= {{ posthog_migrate.utc_now() }} then events.occurred_at
            when events.client_occurred_at <= {{ posthog_migrate.utc_now() }} then events.client_occurred_at
            else events.server_received_at
        end as event_at,
        case
            when events.occurred_at <= {{ posthog_migrate.utc_now() }} then 'event_time'
            when events.client_occurred_at <= {{ posthog_migrate.utc_now() }} then 'client_event_time'
            when events.server_received_at is not null then 'server_received_time'
        end as event_time_source,
        {{ posthog_migrate.uuid_text_if_parsable('events.source_uuid') }} as valid_source_uuid,
        case
            when {{ posthog_migrate.is_legal_distinct_id('events.user_id') }} then events.user_id
            when {{ posthog_migrate.is_legal_distinct_id('events.device_id') }} then events.device_id
        end as distinct_id,
        -- a missing or JSON-null object is empty; anything else that is not an object cannot be properties
        (
            nullif(events.event_properties, 'null') is null
            or {{ posthog_migrate.is_json_object('events.event_properties') }}
        ) as has_usable_event_properties,
        -- not from $insert_id: the warehouse export has none, and both ways in must give the same uuid; each part
        -- null-safe, so a line missing one still gets a stable uuid (the same as before when none is missing), as
        -- long as it names a device or user and a time
        case
            when
                coalesce(events.device_id, events.user_id) is not null
                and coalesce(events.client_occurred_at, events.occurred_at, events.server_received_at) is not null
                then {{ dbt.concat([
                    "'amplitude:'",
                    "coalesce(events.device_id, 'user:' || events.user_id)",
                    "':'",
                    "coalesce(cast(events.event_id as " ~ dbt.type_string() ~ "), '')",
                    "':'",
                    'coalesce(' ~ posthog_migrate.iso8601_utc('events.client_occurred_at') ~ ', '
                        ~ posthog_migrate.iso8601_utc('events.occurred_at') ~ ', '
                        ~ posthog_migrate.iso8601_utc('events.server_received_at') ~ ')',
                    "':'",
                    "coalesce(events.event_type, '')",
                ]) }}
        end as fallback_uuid_key,
        case
            when {{ posthog_migrate.json_text_may_have_key('events.event_properties', reserved_keys) }}
                then {{ posthog_migrate.json_text_rename_and_set('events.event_properties', reserved_renames, []) }}
            else events.event_properties
        end as unreserved_event_properties
    from events

),

keyed as (

    select
        *,
        coalesce(
            valid_source_uuid,
            {{ posthog_migrate.uuid_from_md5_hex(posthog_migrate.md5_hex('fallback_uuid_key')) }}
        ) as uuid
    from identified

),

numbered as (

    -- Amplitude re-delivers events after backfills: the same $insert_id (Export API) or uuid is one event,
    -- the earliest upload of it
    select
        *,
        row_number() over (
            partition by coalesce(insert_id, uuid) order by server_uploaded_at, uuid, event_properties
        ) as insert_id_copy
    from keyed

),

renumbered as (

    select
        *,
        case
            when insert_id_copy > 1 then insert_id_copy
            else row_number() over (
                partition by uuid, insert_id_copy > 1 order by server_uploaded_at, insert_id, event_properties
            )
        end as occurrence
    from numbered

),

classified as (

    select
        renumbered.*,
        event_map.action as map_action,
        coalesce(nullif(event_map.posthog_event, ''), renumbered.event_type) as event,
        case
            when renumbered.read_error is not null then renumbered.read_error
            when not renumbered.is_valid_json then 'not valid JSON'
            when renumbered.event_type is null or renumbered.event_type = '' then 'no event_type'
            when renumbered.uuid is null
                then 'no uuid, and no device_id or user_id with a time to derive one from'
            when renumbered.event_at is null then 'no event_time, client_event_time or server_received_time'
            when ({{ posthog_migrate.posthog_time_rejection('renumbered.event_at') }}) is not null
                then {{ posthog_migrate.posthog_time_rejection('renumbered.event_at') }}
            when renumbered.event_at > {{ posthog_migrate.posthog_future_limit() }}
                then {{ posthog_migrate.sql_string(no_usable_time) }}
            when renumbered.distinct_id is null then 'neither user_id nor device_id is a usable distinct id'
            when not renumbered.has_usable_event_properties then 'event_properties is not a JSON object'
        end as quarantine_reason
    from renumbered
    left join event_map on renumbered.event_type = event_map.amplitude_event_type

),

with_status as (

    select
        *,
        case
            when quarantine_reason is not null then 'quarantined'
            when map_action in ('skip', 'person_update', 'group_update') then 'skipped'
            when occurrence > 1 then 'skipped'
            else 'emitted'
        end as row_status,
        case
            when quarantine_reason is not null then quarantine_reason
            when map_action = 'skip' then 'event type skipped by the amplitude_event_map seed'
            when map_action = 'person_update' then 'user properties folded into posthog_persons'
            when map_action = 'group_update' then 'group properties folded into group updates (posthog_persons)'
            when occurrence > 1 then 'duplicate of an event already emitted (same $insert_id or uuid)'
        end as status_reason
    from classified

),

sessions as (

    select
        *,
        -- session_id is the session's start in epoch ms; -1 means the event is outside any session, and a UUIDv7
        -- carries only a time PostHog can store (a session id in microseconds keeps only $amplitude_session_id)
        case
            when session_id > 0 and session_id < {{ posthog_migrate.posthog_storable_epoch_ms() }}
                then {{ session_uuid }}
        end as posthog_session_id,
        case
            when {{ posthog_migrate.is_json_object('groups') }}
                then {{ posthog_migrate.amplitude_groups_json('groups') }}
        end as posthog_groups
    from with_status

),

built as (

    select
        ----------  ids
        uuid,
        source_table,
        -- a line DuckDB could not read has no id of its own: its file and line number
        coalesce(insert_id, valid_source_uuid, uuid, {{ file_and_line }}) as source_row_id,

        ----------  the PostHog event
        event,
        distinct_id,
        event_at,
        event_time_source,
        posthog_session_id,
        user_id,
        device_id,
        amplitude_id,
        user_properties,
        group_properties,
        country,
        region,
        city,
        case
            when row_status != 'emitted' then null
            else {{ posthog_migrate.json_text_rename_and_set(
                "coalesce(nullif(unreserved_event_properties, 'null'), '{}')",
                renames,
                field_pairs + [
                    ['$session_id', 'posthog_session_id'],
                    ['$groups', posthog_migrate.json_parse('posthog_groups')],
                    ['$geoip_disable', 'true'],
                    ['analytics_source', "'amplitude'"],
                    ['historical_migration', 'true'],
                ]
            ) }}
        end as properties,
        row_status,
        status_reason

    from sessions

),

checked as (

    -- what PostHog would refuse in the event as built: a number it cannot read, or a payload over its limit
    select
        *,
        {{ posthog_migrate.posthog_refusal_reason('properties', payload_bytes) }} as refusal_reason
    from built

),

final as (

    select
        ----------  ids
        uuid,
        source_table,
        source_row_id,

        ----------  the PostHog event
        event,
        distinct_id,
        event_at,
        event_time_source,
        posthog_session_id,
        user_id,
        device_id,
        amplitude_id,
        user_properties,
        group_properties,
        country,
        region,
        city,
        case when refusal_reason is null then properties end as properties,

        ----------  outcome
        case when refusal_reason is null then row_status else 'quarantined' end as row_status,
        coalesce(refusal_reason, status_reason) as status_reason

    from checked

)

select * from final
