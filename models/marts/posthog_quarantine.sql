{#- Source rows that cannot become PostHog events or persons, with the reason. Nothing is dropped silently. -#}

with

unioned as (

    {% for source_name in posthog_migrate.enabled_sources() %}
    select
        '{{ source_name }}' as source_name,
        source_table,
        source_row_id,
        uuid,
        event,
        distinct_id,
        event_at as occurred_at,
        status_reason as reason
    from {{ ref('int_' ~ source_name ~ '_events__classified') }}
    where row_status = 'quarantined'

    union all

    select
        '{{ source_name }}' as source_name,
        source_table,
        source_row_id,
        uuid,
        event,
        distinct_id,
        person_at as occurred_at,
        status_reason as reason
    from {{ ref('int_' ~ source_name ~ '_persons__mapped') }}
    where row_status = 'quarantined'
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

final as (

    select * from unioned

)

select * from final
