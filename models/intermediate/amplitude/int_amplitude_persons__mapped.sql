{#
    One PostHog person per Amplitude user id, sent as a $set event: `$set` is the user's latest user_properties
    (without the initial_* keys), `$set_once` the first-touch initial_* values as $initial_*. Amplitude writes
    "EMPTY" for a first touch that had no value: those keys are left out. The place (country, region, city) of the
    user's latest event that has one goes to `$set` as $geoip_*, of the first to `$set_once` as $initial_geoip_*,
    as PostHog's GeoIP would have set them: events are sent with $geoip_disable, so PostHog never locates the
    person itself.
#}
-- depends_on: {{ ref('posthog_name_catalog') }}

{%- set reserved_names = posthog_migrate.posthog_reserved_names('person_property') %}
{%- set reserved_sql = [] %}
{%- for name in reserved_names %}{% do reserved_sql.append(posthog_migrate.sql_string(name)) %}{% endfor %}
{%- set is_reserved = 'entry_key in (' ~ reserved_sql | join(', ') ~ ')' if reserved_sql else 'false' %}
{%- set payload_bytes = posthog_migrate.posthog_payload_bytes(
    "'$set'", 'user_id', posthog_migrate.byte_length('properties')
) %}
{%- set places = [
    ['country', 'geoip_country_name'], ['region', 'geoip_subdivision_1_name'], ['city', 'geoip_city_name'],
] %}

with

user_events as (

    select
        uuid,
        user_id,
        event_at,
        user_properties,
        country,
        region,
        city
    from {{ ref('int_amplitude_events__classified') }}
    where row_status != 'quarantined' and {{ posthog_migrate.is_legal_distinct_id('user_id') }}

),

events as (

    select
        uuid,
        user_id,
        event_at,
        user_properties
    from user_events
    where {{ posthog_migrate.is_json_object('user_properties') }} and user_properties != '{}'

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

places as (

    -- the user's events that have a place: the first and the latest, and when the latest place first held
    select
        user_id,
        country,
        region,
        city,
        min(event_at) over (partition by user_id, country, region, city) as place_started_at,
        row_number() over (partition by user_id order by event_at, uuid) as first_rank,
        row_number() over (partition by user_id order by event_at desc, uuid desc) as latest_rank
    from user_events
    where coalesce(nullif(country, ''), nullif(region, ''), nullif(city, '')) is not null

),

place_entries as (

    {% for column, property in places %}
    select
        user_id,
        latest_rank = 1 as is_latest,
        first_rank = 1 as is_first,
        '{{ property }}' as property,
        {{ posthog_migrate.json_quote(column) }} as entry_value
    from places
    where (latest_rank = 1 or first_rank = 1) and nullif({{ column }}, '') is not null
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

set_entries as (

    -- a user property never takes a PostHog meaning: `$set` becomes `amplitude_$set`, which wins over a property
    -- already named so (as for event properties); the place comes last
    select
        user_id,
        case when {{ is_reserved }} then 'amplitude_' || entry_key else entry_key end as entry_key,
        entry_value,
        case when {{ is_reserved }} then 0 else 1 end as priority
    from latest_entries
    where {{ dbt.position("'initial_'", 'entry_key') }} != 1 and entry_value not in ('"EMPTY"', 'null')
    union all
    select
        user_id,
        '$' || property as entry_key,
        entry_value,
        2 as priority
    from place_entries
    where is_latest

),

set_once_entries as (

    select
        user_id,
        '$initial_' || substr(entry_key, 9) as entry_key,
        entry_value,
        1 as priority
    from (
        select
            *,
            row_number() over (partition by user_id, entry_key order by event_at, uuid, entry_value) as earliest
        from initial_entries
    ) as ranked
    where earliest = 1 and entry_value not in ('"EMPTY"', 'null')
    union all
    select
        user_id,
        '$initial_' || property as entry_key,
        entry_value,
        2 as priority
    from place_entries
    where is_first

),

users as (

    -- a key the user's own properties have is kept; the place fills in only what they lack
    select
        user_id,
        {{ posthog_migrate.json_object_agg('entry_key', 'entry_value') }} as set_properties
    from (
        select
            *,
            row_number() over (partition by user_id, entry_key order by priority) as occurrence
        from set_entries
    ) as deduplicated
    where occurrence = 1
    group by user_id

),

first_touch as (

    select
        user_id,
        {{ posthog_migrate.json_object_agg('entry_key', 'entry_value') }} as set_once_properties
    from (
        select
            *,
            row_number() over (partition by user_id, entry_key order by priority) as occurrence
        from set_once_entries
    ) as deduplicated
    where occurrence = 1
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
        -- when the latest properties and the latest place both first held
        case
            when
                latest_events.state_started_at is null
                or latest_places.place_started_at > latest_events.state_started_at
                then latest_places.place_started_at
            else latest_events.state_started_at
        end as person_at,
        {{ posthog_migrate.posthog_person_properties('people.set_properties', 'people.set_once_properties') }}
            as properties
    from people
    left join latest_events on people.user_id = latest_events.user_id
    left join places as latest_places on people.user_id = latest_places.user_id and latest_places.latest_rank = 1

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
