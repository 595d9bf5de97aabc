{#
    Every row of Heap's users table with what becomes of it: one PostHog person per final user (sent as a $set
    event), users merged away by user_migrations skipped (Heap already moved their properties), bad rows
    quarantined with the reason. The users table's own properties win; what it lacks is filled from the user's
    touches (int_heap_users__touched): first-touch $initial_* and the place ($geoip_*, $initial_geoip_*).
#}
{#-
    staging measured the properties only where they may be large (their bytes are null elsewhere): there the
    filled objects are measured again, members from the touches included; a person with no distinct id is
    measured as if it were empty, so its properties are never built past the limit either
-#}
{%- set filled_bytes = [] %}
{%- for object in ['set_properties', 'set_once_properties'] %}
{%- do filled_bytes.append('case when numbered.' ~ object ~ '_bytes is not null then '
    ~ posthog_migrate.byte_length('numbered.filled_' ~ object) ~ ' end') %}
{%- endfor %}
{%- set payload_bytes = posthog_migrate.posthog_payload_bytes("'$set'", "coalesce(resolved.distinct_id, '')",
    posthog_migrate.posthog_person_properties_bytes(filled_bytes[0], filled_bytes[1])
) %}

{%- set derived_set = posthog_migrate.heap_touched_person_properties()['set'] %}
{%- set derived_set_once = posthog_migrate.heap_touched_person_properties()['set_once'] %}
{#- a users table stating a first referrer or URL but not its domain or path: they come from what it states -#}
{%- set stated_domain = posthog_migrate.regex_capture('users.set_once_properties',
    '"[$]initial_referrer":"[a-zA-Z][a-zA-Z0-9+.-]*://([^/?#"]+)') %}
{%- set stated_path = posthog_migrate.regex_capture('users.set_once_properties',
    '"[$]initial_current_url":"[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#"]*(/[^?#"]*)') %}
{%- set completed = {
    '$initial_referring_domain': 'case when ' ~ posthog_migrate.json_text_lacks_key('users.set_once_properties',
        '$initial_referring_domain') ~ ' then ' ~ posthog_migrate.json_value_text('nullif(' ~ stated_domain ~ ", '')")
        ~ ' end',
    '$initial_pathname': 'case when ' ~ posthog_migrate.json_text_lacks_key('users.set_once_properties',
        '$initial_pathname') ~ ' and not ' ~ posthog_migrate.json_text_lacks_key('users.set_once_properties',
        '$initial_current_url') ~ ' then ' ~ posthog_migrate.json_value_text('coalesce(nullif(' ~ stated_path
        ~ ", ''), '/')") ~ ' end',
} %}
{%- set missing_set_once = posthog_migrate.properties_missing_from(
    'users.set_once_properties', 'touched', derived_set_once
) %}
{%- set set_once_members = [] %}
{%- for key, value in missing_set_once %}
{%- do set_once_members.append(
    [key, 'coalesce(' ~ value ~ ', ' ~ completed[key] ~ ')' if key in completed else value]
) %}
{%- endfor %}

with

users as (

    select * from {{ ref('stg_heap__users') }}

),

touched as (

    select * from {{ ref('int_heap_users__touched') }}

),

filled as (

    -- a property the users table has is kept; one it lacks is taken from the touches
    select
        users.*,
        {{ posthog_migrate.json_text_prepend(
            'users.set_properties',
            posthog_migrate.properties_missing_from('users.set_properties', 'touched', derived_set)
        ) }} as filled_set_properties,
        {{ posthog_migrate.json_text_prepend('users.set_once_properties', set_once_members) }}
            as filled_set_once_properties
    from users
    left join touched on users.user_id = touched.user_id

),

resolved as (

    select
        user_id,
        final_user_id,
        distinct_id
    from {{ ref('int_heap_users__resolved') }}

),

numbered as (

    select
        filled.*,
        row_number() over (
            partition by filled.user_id order by filled.last_modified_at desc nulls last, filled.set_properties asc
        ) as recency
    from filled

),

joined as (

    select
        numbered.user_id,
        numbered.recency,
        numbered.filled_set_properties as set_properties,
        numbered.filled_set_once_properties as set_once_properties,
        numbered.refused_number_property,
        {{ payload_bytes }} as payload_bytes,
        numbered.last_modified_at is not null or numbered.joined_at is not null as has_time,
        -- the person's $set goes at a time PostHog can store: the last change, else the join
        coalesce(
            {{ posthog_migrate.posthog_storable_time('numbered.last_modified_at') }},
            {{ posthog_migrate.posthog_storable_time('numbered.joined_at') }}
        ) as person_at,
        resolved.final_user_id,
        resolved.distinct_id
    from numbered
    left join resolved on numbered.user_id = resolved.user_id

),

checked as (

    select
        *,
        case
            when user_id is null then 'no user_id'
            when final_user_id != user_id or recency > 1 then null
            when distinct_id is null then 'no usable distinct id'
            when not has_time then 'no joindate or last_modified'
            when person_at is null
                then 'joindate and last_modified are times PostHog cannot store (before 1970-01-01 or after 2149-06-06)'
            when refused_number_property is not null
                then {{ posthog_migrate.refused_number_reason('refused_number_property') }}
            when payload_bytes > {{ posthog_migrate.posthog_max_event_bytes() }}
                then {{ posthog_migrate.payload_too_large_reason() }}
        end as quarantine_reason,
        -- built only where the payload fits: Redshift cannot even hold a longer text
        case
            when coalesce(payload_bytes <= {{ posthog_migrate.posthog_max_event_bytes() }}, true)
                then {{ posthog_migrate.posthog_person_properties('set_properties', 'set_once_properties') }}
        end as properties
    from joined

),

classified as (

    select
        *,
        case
            when quarantine_reason is not null then 'quarantined'
            when final_user_id != user_id or recency > 1 then 'skipped'
            else 'emitted'
        end as row_status,
        case
            when quarantine_reason is not null then quarantine_reason
            when final_user_id != user_id then 'merged into user ' || final_user_id || ' by user_migrations'
            when recency > 1 then 'duplicate row of a user_id already emitted'
        end as status_reason
    from checked

),

hashed as (

    -- the properties are part of the uuid: a person is sent again when, and only when, they change
    select
        *,
        {{ posthog_migrate.md5_hex("'heap:person:' || user_id || ':' || properties") }} as uuid_hash
    from classified

),

final as (

    select
        ----------  ids
        {{ posthog_migrate.uuid_from_md5_hex('uuid_hash') }} as uuid,
        'users' as source_table,
        user_id as source_row_id,

        ----------  the PostHog $set event
        '$set' as event,
        distinct_id,
        person_at,
        set_properties,
        set_once_properties,
        properties,

        ----------  outcome
        row_status,
        status_reason

    from hashed

)

select * from final
