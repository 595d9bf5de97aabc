{#
    Every row of Heap's users table with what becomes of it: one PostHog person per final user (sent as a $set
    event), users merged away by user_migrations skipped (Heap already moved their properties), bad rows
    quarantined with the reason.
#}
{#-
    staging measured the properties only where they may be large (their bytes are null elsewhere); a person with
    no distinct id is measured as if it were empty, so its properties are never built past the limit either
-#}
{%- set payload_bytes = posthog_migrate.posthog_payload_bytes("'$set'", "coalesce(resolved.distinct_id, '')",
    posthog_migrate.posthog_person_properties_bytes('numbered.set_properties_bytes', 'numbered.set_once_properties_bytes')
) %}

with

users as (

    select * from {{ ref('stg_heap__users') }}

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
        users.*,
        row_number() over (
            partition by users.user_id order by users.last_modified_at desc nulls last, users.set_properties asc
        ) as recency
    from users

),

joined as (

    select
        numbered.user_id,
        numbered.recency,
        numbered.set_properties,
        numbered.set_once_properties,
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
