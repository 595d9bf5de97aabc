{#
    One PostHog group update per (group type, group key) seen in Amplitude's `group_properties`, on ordinary events
    and on $groupidentify rows alike: a $groupidentify event with that group's latest properties as `$group_set`,
    sent with the persons. `group_properties` is group type -> group key -> properties, the shape PostHog's
    importer reads; a group key whose value is not an object carries no properties and is left out.
#}
with

events as (

    select
        uuid,
        event_at,
        group_properties
    from {{ ref('int_amplitude_events__classified') }}
    where
        row_status != 'quarantined'
        and {{ posthog_migrate.is_json_object('group_properties') }}
        and group_properties != '{}'

),

group_types as (

    select
        uuid,
        event_at,
        entry_key as group_type,
        entry_value as groups_of_type
    from ({{ posthog_migrate.json_entries('events', ['uuid', 'event_at'], 'group_properties') }}) as entries
    where {{ posthog_migrate.is_json_object('entry_value') }}

),

group_states as (

    select
        uuid,
        event_at,
        group_type,
        entry_key as group_key,
        entry_value as group_properties
    from ({{ posthog_migrate.json_entries('group_types', ['uuid', 'event_at', 'group_type'], 'groups_of_type') }})
        as entries
    where {{ posthog_migrate.is_json_object('entry_value') }}

),

latest_states as (

    -- the group's latest properties, and when they first held: the group is sent again only when they change
    select
        group_type,
        group_key,
        group_properties,
        state_started_at
    from (
        select
            group_type,
            group_key,
            group_properties,
            min(event_at) over (partition by group_type, group_key, group_properties) as state_started_at,
            row_number() over (
                partition by group_type, group_key order by event_at desc, uuid desc, group_properties asc
            ) as recency
        from group_states
    ) as ranked
    where recency = 1

),

latest_entries as (

    {{ posthog_migrate.json_entries('latest_states', ['group_type', 'group_key'], 'group_properties') }}

),

groups_set as (

    -- the properties re-assembled with their keys in order: the same text, so the same uuid, on every warehouse
    select
        group_type,
        group_key,
        {{ posthog_migrate.json_object_agg('entry_key', 'entry_value') }} as set_properties
    from latest_entries
    where entry_value != 'null'
    group by group_type, group_key

),

with_properties as (

    select
        groups_set.*,
        latest_states.state_started_at as person_at,
        -- PostHog's SDKs send a group's updates under this distinct id
        {{ dbt.concat(["'$'", 'groups_set.group_type', "'_'", 'groups_set.group_key']) }} as distinct_id,
        -- type and key quoted, so no two groups share it whatever their names hold
        {{ dbt.concat([posthog_migrate.json_quote('groups_set.group_type'), "':'",
            posthog_migrate.json_quote('groups_set.group_key')]) }} as source_row_id,
        -- keys in code point order, the order Snowflake's and BigQuery's objects keep: the same text everywhere
        {{ posthog_migrate.json_object_text([
            ['$geoip_disable', 'true'],
            ['$group_key', 'groups_set.group_key'],
            ['$group_set', posthog_migrate.json_parse('groups_set.set_properties')],
            ['$group_type', 'groups_set.group_type'],
            ['analytics_source', "'amplitude'"],
            ['historical_migration', 'true'],
        ]) }} as properties
    from groups_set
    inner join latest_states
        on groups_set.group_type = latest_states.group_type and groups_set.group_key = latest_states.group_key

),

final as (

    select
        ----------  ids: the properties are part of the uuid, so a changed group is a new $groupidentify event
        {{ posthog_migrate.uuid_from_md5_hex(posthog_migrate.md5_hex(
            "'amplitude:group:' || source_row_id || ':' || properties"
        )) }} as uuid,
        'group_properties' as source_table,
        source_row_id,

        ----------  the PostHog $groupidentify event
        '$groupidentify' as event,
        distinct_id,
        person_at,
        set_properties,
        '{}' as set_once_properties,
        properties,

        ----------  outcome: every derived group with an id PostHog accepts is emitted
        'emitted' as row_status,
        cast(null as {{ dbt.type_string() }}) as status_reason

    from with_properties
    where {{ posthog_migrate.is_legal_distinct_id('distinct_id') }}

)

select * from final
