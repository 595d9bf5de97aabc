{#
    Attach staging's columns (properties, url parts) to the classified rows of `classified` (a CTE of
    int_heap_events__classified). A Heap event id can occur twice in a table (Heap's sync delivers an identical
    copy), so the join must pick exactly the classified copy.
#}
{% macro heap_attach_event_columns(classified, events) %}
    {{ return(adapter.dispatch('heap_attach_event_columns', 'posthog_migrate')(classified, events)) }}
{% endmacro %}

{#- Without a row locator: join on the event id and keep one copy per event. -#}
{% macro default__heap_attach_event_columns(classified, events) %}
    select * from (
        select
            {{ posthog_migrate._heap_attached_columns(classified) }},
            row_number() over (
                partition by {{ classified }}.uuid order by events.properties
            ) as copy_number
        from {{ classified }}
        inner join {{ events }} as events
            on {{ classified }}.source_table = events.source_table
            and {{ classified }}.source_row_id = events.event_id
            and {{ classified }}.event_at = events.event_at
    ) as copies
    where copy_number = 1
{% endmacro %}

{#-
    DuckDB: join on the physical row (and the time, so a filter on time reaches both sides), no window over the
    JSON, which at 10M events would be gigabytes to sort.
-#}
{% macro duckdb__heap_attach_event_columns(classified, events) %}
    select {{ posthog_migrate._heap_attached_columns(classified) }}
    from {{ classified }}
    inner join {{ events }} as events
        on {{ classified }}.source_table = events.source_table
        and {{ classified }}.source_row_locator = events.source_row_locator
        and {{ classified }}.event_at = events.event_at
{% endmacro %}

{% macro _heap_attached_columns(classified) -%}
    {{ classified }}.*,
    {%- for column in ['properties', 'domain', 'path', 'query', 'hash', 'landing_page', 'landing_page_query',
                       'landing_page_hash'] %}
    events.{{ column }}{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}


{#- Tells the physical copies of a source row apart where the warehouse exposes it (DuckDB's rowid). -#}
{% macro source_row_locator() %}
    {{ return(adapter.dispatch('source_row_locator', 'posthog_migrate')()) }}
{% endmacro %}

{% macro default__source_row_locator() -%}
    cast(null as {{ dbt.type_bigint() }})
{%- endmacro %}

{% macro duckdb__source_row_locator() -%}
    rowid
{%- endmacro %}
