{#
    The Amplitude events delivered more than once, with the time of the copy that is kept. A re-delivered event
    shares its $insert_id (or, without one, its uuid) with the first upload, which is kept; among the rows kept
    that way, rows sharing a uuid are one event too, the first upload kept. int_amplitude_events__classified is
    built one slice of time at a time and sees only its slice's copies: this tells it when the copy kept lies in
    another slice. Same order as there, so the same copy.
#}

with

source_events as (

    select
        {{ posthog_migrate.amplitude_valid_source_uuid('events') }} as valid_source_uuid,
        {{ posthog_migrate.amplitude_fallback_uuid_key('events') }} as fallback_uuid_key,
        events.insert_id,
        events.server_uploaded_at,
        events.event_properties,
        {{ posthog_migrate.amplitude_event_at('events') }} as event_at
    from {{ ref('stg_amplitude__events') }} as events

),

with_uuid as (

    select
        coalesce(valid_source_uuid, {{ posthog_migrate.amplitude_derived_uuid('fallback_uuid_key') }}) as uuid,
        insert_id,
        server_uploaded_at,
        event_properties,
        event_at
    from source_events

),

keyed as (

    select
        *,
        coalesce(insert_id, uuid) as insert_id_key
    from with_uuid

),

repeated_insert_ids as (

    select
        insert_id_key,
        true as repeated
    from keyed
    group by insert_id_key
    having count(*) > 1

),

insert_id_copies as (

    select
        keyed.*,
        row_number() over (
            partition by keyed.insert_id_key order by keyed.server_uploaded_at, keyed.uuid, keyed.event_properties
        ) as insert_id_copy
    from keyed
    inner join repeated_insert_ids on keyed.insert_id_key = repeated_insert_ids.insert_id_key

),

kept_by_insert_id as (

    -- every row whose $insert_id is its own, and the first upload of each repeated one
    select
        keyed.uuid,
        keyed.insert_id,
        keyed.server_uploaded_at,
        keyed.event_properties,
        keyed.event_at
    from keyed
    left join repeated_insert_ids
        on keyed.insert_id_key = repeated_insert_ids.insert_id_key
    where repeated_insert_ids.repeated is null

    union all

    select
        uuid,
        insert_id,
        server_uploaded_at,
        event_properties,
        event_at
    from insert_id_copies
    where insert_id_copy = 1

),

repeated_uuids as (

    select uuid
    from kept_by_insert_id
    group by uuid
    having count(*) > 1

),

uuid_copies as (

    select
        kept_by_insert_id.*,
        row_number() over (
            partition by kept_by_insert_id.uuid
            order by
                kept_by_insert_id.server_uploaded_at,
                kept_by_insert_id.insert_id,
                kept_by_insert_id.event_properties
        ) as uuid_copy
    from kept_by_insert_id
    inner join repeated_uuids on kept_by_insert_id.uuid = repeated_uuids.uuid

),

final as (

    select
        'insert_id' as dedupe_by,
        insert_id_key as dedupe_key,
        event_at as kept_event_at
    from insert_id_copies
    -- a row without a uuid cannot be an event (the build's not_null test on posthog_events says so)
    where insert_id_copy = 1 and insert_id_key is not null

    union all

    select
        'uuid' as dedupe_by,
        uuid as dedupe_key,
        event_at as kept_event_at
    from uuid_copies
    where uuid_copy = 1 and uuid is not null

)

select * from final
