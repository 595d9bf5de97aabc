{#-
    One PostHog person per distinct id that has person properties, sent as a $set event: every `$set` key takes
    its latest value and every `$set_once` key its earliest, over the person messages of the custom source (`$set`
    and `$set_once` of any row, identify messages, rows of custom_persons_relation), as PostHog applies them.
-#}
{%- set payload_bytes = posthog_migrate.posthog_payload_bytes(
    "'$set'", 'distinct_id', posthog_migrate.byte_length('properties')
) %}

with

messages as (

    select
        distinct_id,
        event_at as updated_at,
        set_properties,
        set_once_properties
    from {{ ref('int_custom_events__classified') }}
    where set_properties is not null or set_once_properties is not null

    {% if var('custom_persons_relation') -%}
    union all

    select
        distinct_id,
        updated_at,
        set_properties,
        set_once_properties
    from {{ ref('int_custom_person_rows__classified') }}
    where row_status = 'emitted'
    {%- endif %}

),

set_messages as (

    select * from messages
    where set_properties is not null

),

set_once_messages as (

    select * from messages
    where set_once_properties is not null

),

set_entries as (

    {{ posthog_migrate.json_entries('set_messages', ['distinct_id', 'updated_at'], 'set_properties') }}

),

set_once_entries as (

    {{ posthog_migrate.json_entries('set_once_messages', ['distinct_id', 'updated_at'], 'set_once_properties') }}

),

latest_set as (

    select
        distinct_id,
        {{ posthog_migrate.json_object_agg('entry_key', 'entry_value') }} as set_properties
    from (
        select
            *,
            row_number() over (
                partition by distinct_id, entry_key order by updated_at desc, entry_value asc
            ) as recency
        from set_entries
    ) as ranked
    where recency = 1 and entry_value != 'null'
    group by distinct_id

),

earliest_set_once as (

    select
        distinct_id,
        {{ posthog_migrate.json_object_agg('entry_key', 'entry_value') }} as set_once_properties
    from (
        select
            *,
            row_number() over (
                partition by distinct_id, entry_key order by updated_at asc, entry_value asc
            ) as earliness
        from set_once_entries
    ) as ranked
    where earliness = 1 and entry_value != 'null'
    group by distinct_id

),

people as (

    select
        distinct_id,
        max(updated_at) as person_at
    from messages
    group by distinct_id

),

with_properties as (

    select
        people.distinct_id,
        people.person_at,
        coalesce(latest_set.set_properties, '{}') as set_properties,
        coalesce(earliest_set_once.set_once_properties, '{}') as set_once_properties
    from people
    left join latest_set on people.distinct_id = latest_set.distinct_id
    left join earliest_set_once on people.distinct_id = earliest_set_once.distinct_id

),

built as (

    select
        *,
        {{ posthog_migrate.posthog_person_properties('set_properties', 'set_once_properties') }} as properties
    from with_properties
    where set_properties != '{}' or set_once_properties != '{}'

),

checked as (

    -- what PostHog would refuse in the $set event as built
    select
        *,
        {{ posthog_migrate.posthog_refusal_reason('properties', payload_bytes) }} as refusal_reason
    from built

),

final as (

    select
        ----------  ids: the properties are part of the uuid, so a changed person is a new $set event
        {{ posthog_migrate.uuid_from_md5_hex(
            posthog_migrate.md5_hex("'custom:person:' || distinct_id || ':' || properties")
        ) }} as uuid,
        'person_messages' as source_table,
        distinct_id as source_row_id,

        ----------  the PostHog $set event
        '$set' as event,
        distinct_id,
        person_at,
        set_properties,
        set_once_properties,
        properties,

        ----------  outcome
        case when refusal_reason is null then 'emitted' else 'quarantined' end as row_status,
        refusal_reason as status_reason

    from checked

)

select * from final
