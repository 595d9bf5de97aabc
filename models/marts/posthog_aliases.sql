{#- One row per identity link, sent as $create_alias before any event. -#}
{{ config(materialized=var('posthog_contract_materialization'), unique_key='uuid') }}

with

unioned as (

    {% for source_name in posthog_migrate.enabled_sources() %}
    select
        '{{ source_name }}' as source_name,
        uuid,
        event,
        distinct_id,
        alias,
        linked_at,
        link_reason,
        properties
    from {{ ref('int_' ~ source_name ~ '_aliases__linked') }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

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
    from unioned
    {% if is_incremental() %}
        where {{ posthog_migrate.within_incremental_lookback('linked_at') }}
    {% endif %}

)

select * from final
