{#
    The emitted Heap events with their properties: the mapped columns from staging plus `$current_url`,
    `$session_id` and `$geoip_disable`. A view on DuckDB (DECISIONLOG: Views on DuckDB, tables elsewhere).
#}
{{ config(
    enabled=var('heap_enabled'),
    materialized=('view' if target.type == 'duckdb' else 'table'),
) }}

with

emitted as (

    select * from {{ ref('int_heap_events__classified') }}
    where row_status = 'emitted'

),

with_properties as (

    {{ posthog_migrate.heap_attach_event_columns('emitted', ref('stg_heap__events')) }}

),

final as (

    select
        uuid,
        source_table,
        source_row_id,
        event,
        distinct_id,
        event_at,
        {{ posthog_migrate.json_text_prepend('properties', posthog_migrate.heap_event_derived_properties()) }}
            as properties
    from with_properties

)

select * from final
