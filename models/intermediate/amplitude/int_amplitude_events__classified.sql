{#
    Every Amplitude event row with what becomes of it: `emitted` as a PostHog event (with its properties),
    `quarantined` with the reason it cannot be one, or `skipped` with the reason it is deliberately not sent
    (event type skipped or folded into persons by the amplitude_event_map seed, or a re-delivered copy).
#}
-- depends_on: {{ ref('amplitude_field_map') }}
-- depends_on: {{ ref('amplitude_event_property_map') }}
-- depends_on: {{ ref('posthog_name_catalog') }}

{%- set field_pairs = posthog_migrate.amplitude_field_pairs(
    posthog_migrate.amplitude_field_map_rows(), 'platform'
) %}
{%- set renames = [] %}
{%- for rule in posthog_migrate.amplitude_event_property_map_rows() %}
{%- do renames.append([rule['amplitude_property'], rule['posthog_property']]) %}
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
{%- set canonical_uuid = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' %}

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
        -- event_time is Amplitude's best estimate; the client's clock, then the server's, when it is missing
        coalesce(events.occurred_at, events.client_occurred_at, events.server_received_at) as event_at,
        case
            when {{ posthog_migrate.regex_matches('lower(events.source_uuid)', canonical_uuid) }}
                then lower(events.source_uuid)
        end as valid_source_uuid,
        case
            when {{ posthog_migrate.is_legal_distinct_id('events.user_id') }} then events.user_id
            when {{ posthog_migrate.is_legal_distinct_id('events.device_id') }} then events.device_id
        end as distinct_id,
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
            -- not from $insert_id: the warehouse export has none, and both ways in must give the same uuid
            {{ posthog_migrate.uuid_from_md5_hex(posthog_migrate.md5_hex(
                "'amplitude:' || device_id || ':' || cast(event_id as " ~ dbt.type_string() ~ ") || ':' || "
                ~ posthog_migrate.iso8601_utc('client_occurred_at') ~ " || ':' || event_type"
            )) }}
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
        case
            when event_map.action = 'group_update' then '$groupidentify'
            else coalesce(nullif(event_map.posthog_event, ''), renumbered.event_type)
        end as event,
        case
            when renumbered.read_error is not null then renumbered.read_error
            when not renumbered.is_valid_json then 'not valid JSON'
            when renumbered.event_type is null or renumbered.event_type = '' then 'no event_type'
            when renumbered.event_at is null then 'no event_time, client_event_time or server_received_time'
            when ({{ posthog_migrate.posthog_time_rejection('renumbered.event_at') }}) is not null
                then {{ posthog_migrate.posthog_time_rejection('renumbered.event_at') }}
            when renumbered.event_at > {{ posthog_migrate.posthog_future_limit() }}
                then 'time more than 23 hours in the future: PostHog would move it to the load time'
            when renumbered.distinct_id is null then 'neither user_id nor device_id is a usable distinct id'
        end as quarantine_reason
    from renumbered
    left join event_map on renumbered.event_type = event_map.amplitude_event_type

),

with_status as (

    select
        *,
        case
            when quarantine_reason is not null then 'quarantined'
            when map_action in ('skip', 'person_update') then 'skipped'
            when occurrence > 1 then 'skipped'
            else 'emitted'
        end as row_status,
        case
            when quarantine_reason is not null then quarantine_reason
            when map_action = 'skip' then 'event type skipped by the amplitude_event_map seed'
            when map_action = 'person_update' then 'user properties folded into posthog_persons'
            when occurrence > 1 then 'duplicate of an event already emitted (same $insert_id or uuid)'
        end as status_reason
    from classified

),

sessions as (

    select
        *,
        -- session_id is the session's start in epoch ms; -1 means the event is outside any session, and a UUIDv7
        -- carries only a time PostHog can store
        case
            when session_id > 0 and session_id < {{ posthog_migrate.posthog_storable_epoch_ms() }}
                then {{ session_uuid }}
        end as posthog_session_id,
        {{ posthog_migrate.amplitude_groups_json('groups') }} as posthog_groups
    from with_status

),

grouped as (

    select
        *,
        {{ posthog_migrate.json_text_first_key('posthog_groups') }} as group_type,
        {{ posthog_migrate.json_text_first_value('posthog_groups') }} as group_key
    from sessions

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
        -- a group update belongs to the group, under the distinct id PostHog's SDKs give groups
        case
            when map_action = 'group_update' and group_type is not null
                then {{ dbt.concat(["'$'", 'group_type', "'_'", 'group_key']) }}
            else distinct_id
        end as distinct_id,
        event_at,
        posthog_session_id,
        user_id,
        device_id,
        amplitude_id,
        user_properties,
        case
            when row_status != 'emitted' then null
            -- keys in code point order, the order Snowflake's and BigQuery's objects keep: the same text everywhere
            when map_action = 'group_update' then {{ posthog_migrate.json_object_text([
                ['$geoip_disable', 'true'],
                ['$group_key', 'group_key'],
                ['$group_set', posthog_migrate.json_parse("coalesce(group_properties, '{}')")],
                ['$group_type', 'group_type'],
            ]) }}
            else {{ posthog_migrate.json_text_rename_and_set(
                "coalesce(unreserved_event_properties, '{}')",
                renames,
                field_pairs + [
                    ['$session_id', 'posthog_session_id'],
                    ['$groups', posthog_migrate.json_parse('posthog_groups')],
                    ['$geoip_disable', 'true'],
                ]
            ) }}
        end as properties,
        row_status,
        status_reason

    from grouped

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
        posthog_session_id,
        user_id,
        device_id,
        amplitude_id,
        user_properties,
        case when refusal_reason is null then properties end as properties,

        ----------  outcome
        case when refusal_reason is null then row_status else 'quarantined' end as row_status,
        coalesce(refusal_reason, status_reason) as status_reason

    from checked

)

select * from final
