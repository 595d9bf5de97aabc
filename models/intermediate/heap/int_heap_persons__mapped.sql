{#
    Every row of Heap's users table with what becomes of it: one PostHog person per final user (sent as a $set
    event), users merged away by user_migrations skipped (Heap already moved their properties), bad rows
    quarantined with the reason.
#}

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
        coalesce(numbered.last_modified_at, numbered.joined_at) as person_at,
        resolved.final_user_id,
        resolved.distinct_id,
        {{ posthog_migrate.posthog_person_properties('numbered.set_properties', 'numbered.set_once_properties') }}
            as properties
    from numbered
    left join resolved on numbered.user_id = resolved.user_id

),

classified as (

    select
        *,
        case
            when user_id is null then 'quarantined'
            when final_user_id != user_id then 'skipped'
            when recency > 1 then 'skipped'
            when distinct_id is null or person_at is null then 'quarantined'
            else 'emitted'
        end as row_status,
        case
            when user_id is null then 'no user_id'
            when final_user_id != user_id then 'merged into user ' || final_user_id || ' by user_migrations'
            when recency > 1 then 'duplicate row of a user_id already emitted'
            when distinct_id is null then 'no usable distinct id'
            when person_at is null then 'no joindate or last_modified'
        end as status_reason
    from joined

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
