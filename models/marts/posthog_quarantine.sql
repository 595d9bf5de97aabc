{#- Source rows that cannot become PostHog events or persons, with the reason. Nothing is dropped silently. -#}

with

unioned as (

    {% for source_name in posthog_migrate.enabled_sources() %}
    {% set source_loop = loop %}
    {% for model, contract, time_column in posthog_migrate.reconciled_models(source_name) %}
    select
        '{{ source_name }}' as source_name,
        source_table,
        source_row_id,
        uuid,
        event,
        distinct_id,
        {{ time_column }} as occurred_at,
        status_reason as reason
    from {{ ref(model) }}
    where row_status = 'quarantined'
    {% if not (loop.last and source_loop.last) %}union all{% endif %}
    {% endfor %}
    {% endfor %}

),

final as (

    select * from unioned

)

select * from final
