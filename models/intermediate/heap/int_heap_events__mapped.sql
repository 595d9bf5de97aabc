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
        {{ posthog_migrate.json_text_prepend('properties', [
            ['$current_url', posthog_migrate.json_quote(
                'coalesce('
                ~ posthog_migrate.url_from_parts('domain', 'path', 'query', 'hash') ~ ', '
                ~ posthog_migrate.url_from_parts('landing_page', 'null', 'landing_page_query', 'landing_page_hash')
                ~ ')'
            )],
            ['$session_id', posthog_migrate.json_quote('posthog_session_id')],
            ['$geoip_disable', "'true'"],
        ]) }} as properties
    from with_properties

)

select * from final
