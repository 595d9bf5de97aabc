{#- The emitted custom events with their properties. -#}
with

final as (

    select
        uuid,
        source_table,
        source_row_id,
        event,
        distinct_id,
        event_at,
        properties
    from {{ ref('int_custom_events__classified') }}
    where row_status = 'emitted'

)

select * from final
