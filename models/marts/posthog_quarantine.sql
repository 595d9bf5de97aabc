{#- Source rows that cannot become PostHog events or persons, with the reason. Nothing is dropped silently. -#}
with

accounted as (

    select * from {{ ref('int_source_rows__accounted') }}

),

final as (

    select
        source_name,
        source_table,
        source_row_id,
        uuid,
        event,
        distinct_id,
        occurred_at,
        status_reason as reason
    from accounted
    where row_status = 'quarantined'

)

select * from final
