{#
    Every Amplitude event row with what becomes of it: `emitted` as a PostHog event (with its properties),
    `quarantined` with the reason it cannot be one, or `skipped` with the reason it is deliberately not sent
    (event type skipped or folded into persons or groups by the amplitude_event_map seed, or a re-delivered copy).
    The rules follow PostHog's own importer (rust/batch-import-worker, parse/content/amplitude.rs) where it has one.

    Built one slice of time at a time (sliced_table): each slice reads its own rows, and learns from
    int_amplitude_events__duplicated when the copy of an event that is kept lies in another slice.
#}
{{ config(
    slice_time='event_at',
    slice_plan=[['stg_amplitude__events', posthog_migrate.amplitude_event_at()]],
) }}
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
        {{ posthog_migrate.amplitude_event_at('events') }} as event_at,
        -- which field event_at came from, in the same order
        case
            when events.occurred_at <= {{ posthog_migrate.utc_now() }} then 'event_time'
            when events.client_occurred_at <= {{ posthog_migrate.utc_now() }} then 'client_event_time'
            when events.server_received_at is not null then 'server_received_time'
        end as event_time_source,
        {{ posthog_migrate.amplitude_valid_source_uuid('events') }} as valid_source_uuid,
        case
            when {{ posthog_migrate.is_legal_distinct_id('events.user_id') }} then events.user_id
            when {{ posthog_migrate.is_legal_distinct_id('events.device_id') }} then events.device_id
        end as distinct_id,
        -- a missing or JSON-null object is empty; anything else that is not an object cannot be properties
        (
            nullif(events.event_properties, 'null') is null
            or {{ posthog_migrate.is_json_object('events.event_properties') }}
        ) as has_usable_event_properties,
        {{ posthog_migrate.amplitude_fallback_uuid_key('events') }} as fallback_uuid_key,
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
        coalesce(valid_source_uuid, {{ posthog_migrate.amplitude_derived_uuid('fallback_uuid_key') }}) as uuid
    from identified
    where {{ posthog_migrate.slice_filter('event_at') }}

),

duplicated as (

    select
        dedupe_by,
        dedupe_key,
        kept_event_at
    from {{ ref('int_amplitude_events__duplicated') }}

),

matched as (

    -- Amplitude re-delivers events after backfills: the same $insert_id (Export API) or uuid is one event, the
    -- earliest upload of it. Built a slice at a time, the copy kept may lie in another slice.
    select
        keyed.*,
        kept_insert_id.dedupe_by is not null or kept_uuid.dedupe_by is not null as has_copies,
        case
            when
                kept_insert_id.dedupe_by is not null
                and not {{ posthog_migrate.slice_filter('kept_insert_id.kept_event_at') }}
                then 1
            else 0
        end as insert_id_kept_elsewhere,
        case
            when
                kept_uuid.dedupe_by is not null
                and not {{ posthog_migrate.slice_filter('kept_uuid.kept_event_at') }}
                then 1
            else 0
        end as uuid_kept_elsewhere
    from keyed
    left join duplicated as kept_insert_id
        on
            kept_insert_id.dedupe_by = 'insert_id'
            and coalesce(keyed.insert_id, keyed.uuid) = kept_insert_id.dedupe_key
    left join duplicated as kept_uuid
        on kept_uuid.dedupe_by = 'uuid' and keyed.uuid = kept_uuid.dedupe_key

),

numbered as (

    select
        *,
        row_number() over (
            partition by coalesce(insert_id, uuid) order by server_uploaded_at, uuid, event_properties
        ) + insert_id_kept_elsewhere as insert_id_copy
    from matched
    {%- if target.type == 'duckdb' %}
    where has_copies
    {%- endif %}

),

renumbered as (

    select
        *,
        case
            when insert_id_copy > 1 then insert_id_copy
            else row_number() over (
                partition by uuid, insert_id_copy > 1 order by server_uploaded_at, insert_id, event_properties
            ) + uuid_kept_elsewhere
        end as occurrence
    from numbered

),

counted as (

    -- a row delivered once is alone in its windows, so DuckDB numbers only the copies; elsewhere `matched` is
    -- read once, as BigQuery evaluates a CTE again for each reference
    {% if target.type == 'duckdb' -%}
    select
        *,
        1 as insert_id_copy,
        1 as occurrence
    from matched
    where not has_copies

    union all

    {% endif -%}
    select * from renumbered

),

classified as (

    select
        counted.*,
        event_map.action as map_action,
        coalesce(nullif(event_map.posthog_event, ''), counted.event_type) as event,
        case
            when counted.read_error is not null then counted.read_error
            when not counted.is_valid_json then 'not valid JSON'
            when counted.event_type is null or counted.event_type = '' then 'no event_type'
            when counted.uuid is null
                then 'no uuid, and no device_id or user_id with a time to derive one from'
            when counted.event_at is null then 'no event_time, client_event_time or server_received_time'
            when ({{ posthog_migrate.posthog_time_rejection('counted.event_at') }}) is not null
                then {{ posthog_migrate.posthog_time_rejection('counted.event_at') }}
            when counted.event_at > {{ posthog_migrate.posthog_future_limit() }}
                then {{ posthog_migrate.sql_string(no_usable_time) }}
            when counted.distinct_id is null then 'neither user_id nor device_id is a usable distinct id'
            when not counted.has_usable_event_properties then 'event_properties is not a JSON object'
        end as quarantine_reason
    from counted
    left join event_map on counted.event_type = event_map.amplitude_event_type

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
