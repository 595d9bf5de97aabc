{#-
    One row per identity link, from every enabled source, sent as $create_alias before any event: `alias` joins
    the person of `distinct_id`, as posthog-python's alias() sends it.
-#}

with

{% if var('heap_enabled') %}
heap_aliases as (

    select * from {{ ref('int_heap_aliases__linked') }}

),

{% endif %}
{% if var('amplitude_enabled') %}
amplitude_aliases as (

    select * from {{ ref('int_amplitude_aliases__linked') }}

),

{% endif %}
{% if var('custom_events_relation') %}
custom_aliases as (

    select * from {{ ref('int_custom_aliases__linked') }}

),

{% endif %}
unioned as (

    {% for source_name in posthog_migrate.enabled_sources() %}
    select
        '{{ source_name }}' as source_name,
        distinct_id,
        alias,
        linked_at,
        link_reason
    from {{ source_name }}_aliases
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

hashed as (

    select
        *,
        {{ posthog_migrate.md5_hex("source_name || ':alias:' || distinct_id || ':' || alias") }} as uuid_hash
    from unioned

),

events as (

    select
        *,
        {{ posthog_migrate.uuid_from_md5_hex('uuid_hash') }} as uuid,
        '$create_alias' as event,
        -- keys in code point order, the order Snowflake's and BigQuery's objects keep: the same text everywhere
        {{ posthog_migrate.json_object_text([
            ['$geoip_disable', 'true'], ['alias', 'alias'], ['distinct_id', 'distinct_id']
        ]) }} as properties
    from hashed

),

final as (

    select
        uuid,
        event,
        distinct_id,
        alias,
        linked_at as timestamp,
        link_reason,
        source_name,
        {{ posthog_migrate.posthog_delivery_columns('linked_at') }}
    from events
    {% if is_incremental() %}
        where {{ posthog_migrate.within_incremental_lookback('linked_at') }}
    {% endif %}

)

select * from final
