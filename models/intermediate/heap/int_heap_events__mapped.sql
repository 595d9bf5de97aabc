{#
    The emitted Heap events with their properties: the mapped columns from staging plus `$current_url`,
    `$session_id` and `$geoip_disable`. A view on DuckDB (DECISIONLOG: Views on DuckDB, tables elsewhere);
    elsewhere built a slice of time at a time (DECISIONLOG: Heavy models are built in time slices).
#}
{{ config(
    slice_time='event_at',
    slice_plan=[['int_heap_events__classified', 'event_at']],
) }}

with

emitted as (

    select * from {{ ref('int_heap_events__classified') }}
    where row_status = 'emitted' and {{ posthog_migrate.slice_filter('event_at') }}

),

events as (

    select * from {{ ref('stg_heap__events') }}
    where {{ posthog_migrate.slice_filter('event_at') }}

),

{% if target.type == 'duckdb' %}
with_properties as (

    -- the classified copy of a duplicated row, by its physical row (DECISIONLOG: Views on DuckDB, tables elsewhere)
    select
        emitted.*,
        {% for column in posthog_migrate.heap_url_columns() -%}
        events.{{ column }},
        {% endfor -%}
        events.properties
    from emitted
    inner join events
        on
            emitted.source_table = events.source_table
            and emitted.source_row_locator = events.source_row_locator
            and emitted.event_at = events.event_at

),
{% else %}
copies as (

    -- no row locator: join on the event id and keep one of a duplicated row's identical copies
    select
        emitted.*,
        {% for column in posthog_migrate.heap_url_columns() -%}
        events.{{ column }},
        {% endfor -%}
        events.properties,
        row_number() over (partition by emitted.uuid order by events.properties) as copy_number
    from emitted
    inner join events
        on
            emitted.source_table = events.source_table
            and emitted.source_row_id = events.event_id
            and emitted.event_at = events.event_at

),

with_properties as (

    select * from copies
    where copy_number = 1

),
{% endif %}

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
