{#
    One PostHog person per Amplitude user id, sent as a $set event: `$set` is the user's latest user_properties
    (without the initial_* keys), `$set_once` the first-touch initial_* values as $initial_*. Amplitude writes
    "EMPTY" for a first touch that had no value: those keys are left out.
#}
-- depends_on: {{ ref('posthog_name_catalog') }}

{%- set reserved_names = posthog_migrate.posthog_reserved_names('person_property') %}
{%- set reserved_sql = [] %}
{%- for name in reserved_names %}{% do reserved_sql.append(posthog_migrate.sql_string(name)) %}{% endfor %}
{%- set is_reserved = 'entry_key in (' ~ reserved_sql | join(', ') ~ ')' if reserved_sql else 'false' %}
{%- set payload_bytes = posthog_migrate.posthog_payload_bytes(
    "'$set'", 'user_id', posthog_migrate.byte_length('properties')
) %}

with

events as (

    select
        uuid,
        user_id,
        event_at,
        user_properties
    from {{ ref('int_amplitude_events__classified') }}
    where
        row_status != 'quarantined'
        and {{ posthog_migrate.is_legal_distinct_id('user_id') }}
        and user_properties is not null
        and user_properties not in ('{}', 'null')

),

latest_events as (

    -- the user's latest user_properties, and when they first held them: the person is sent again only when they
    -- change, not with every new event
    select
        user_id,
        user_properties,
        state_started_at
    from (
        select
            user_id,
            user_properties,
            min(event_at) over (partition by user_id, user_properties) as state_started_at,
            row_number() over (partition by user_id order by event_at desc, uuid desc, user_properties asc) as recency
        from events
    ) as ranked
    where recency = 1

),

latest_entries as (

    {{ posthog_migrate.json_entries('latest_events', ['user_id'], 'user_properties') }}

),

initial_entries as (

    select *
    from (
        {{ posthog_migrate.json_entries('events', ['uuid', 'user_id', 'event_at'], 'user_properties') }}
    ) as entries
    where {{ dbt.position("'initial_'", 'entry_key') }} = 1

),

set_entries as (

    -- a user property never takes a PostHog meaning: `$set` becomes `amplitude_$set`, which wins over a property
    -- already named so (as for event properties)
    select
        user_id,
        property_key,
        entry_value
    from (
        select
            user_id,
            case when {{ is_reserved }} then 'amplitude_' || entry_key else entry_key end as property_key,
            entry_value,
            row_number() over (
                partition by user_id, case when {{ is_reserved }} then 'amplitude_' || entry_key else entry_key end
                order by case when {{ is_reserved }} then 0 else 1 end
            ) as claim
        from latest_entries
        where {{ dbt.position("'initial_'", 'entry_key') }} != 1 and entry_value not in ('"EMPTY"', 'null')
    ) as renamed
    where claim = 1

),

users as (

    select
        user_id,
        {{ posthog_migrate.json_object_agg('property_key', 'entry_value') }} as set_properties
    from set_entries
    group by user_id

),

first_touch as (

    select
        user_id,
        {{ posthog_migrate.json_object_agg("'$initial_' || substr(entry_key, 9)", 'entry_value') }}
            as set_once_properties
    from (
        select
            *,
            row_number() over (partition by user_id, entry_key order by event_at, uuid, entry_value) as earliest
        from initial_entries
    ) as ranked
    where earliest = 1 and entry_value not in ('"EMPTY"', 'null')
    group by user_id

),

people as (

    select
        coalesce(users.user_id, first_touch.user_id) as user_id,
        coalesce(users.set_properties, '{}') as set_properties,
        coalesce(first_touch.set_once_properties, '{}') as set_once_properties
    from users
    full outer join first_touch on users.user_id = first_touch.user_id

),

with_properties as (

    select
        people.*,
        latest_events.state_started_at as person_at,
        {{ posthog_migrate.posthog_person_properties('people.set_properties', 'people.set_once_properties') }}
            as properties
    from people
    inner join latest_events on people.user_id = latest_events.user_id

),

checked as (

    -- what PostHog would refuse in the $set event as built
    select
        *,
        {{ posthog_migrate.posthog_refusal_reason('properties', payload_bytes) }} as refusal_reason
    from with_properties

),

final as (

    select
        ----------  ids: the properties are part of the uuid, so a changed person is a new $set event
        {{ posthog_migrate.uuid_from_md5_hex(
            posthog_migrate.md5_hex("'amplitude:person:' || user_id || ':' || properties")
        ) }} as uuid,
        'user_properties' as source_table,
        user_id as source_row_id,

        ----------  the PostHog $set event
        '$set' as event,
        user_id as distinct_id,
        person_at,
        set_properties,
        set_once_properties,
        properties,

        ----------  outcome: a derived person is emitted unless PostHog would refuse it
        case when refusal_reason is null then 'emitted' else 'quarantined' end as row_status,
        refusal_reason as status_reason

    from checked

)

select * from final
