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


{#-
    Tells the physical copies of a source row apart where the warehouse exposes them, as `source_row_locator`:
    DuckDB's rowid for a table. A view has no rowid, so there each row is located by a hash of its values and its
    copy number among identical rows: copies are alike, so which copy gets which number does not matter, and the
    same row gets the same locator on every read. Elsewhere null (rows are matched on their event id instead).
    Returns the FROM clause that reads `table` (from heap_source_tables) with that column.
-#}
{% macro heap_located_rows(table, columns_by_name) %}
    {{ return(adapter.dispatch('heap_located_rows', 'posthog_migrate')(table, columns_by_name)) }}
{% endmacro %}

{% macro default__heap_located_rows(table, columns_by_name) -%}
    (select *, cast(null as {{ dbt.type_bigint() }}) as source_row_locator from {{ table.relation }}) as located
{%- endmacro %}

{% macro duckdb__heap_located_rows(table, columns_by_name) -%}
    {%- if not table.is_view -%}
        (select *, rowid as source_row_locator from {{ table.relation }}) as located
    {%- else -%}
        {%- set values = [] -%}
        {%- for column in columns_by_name.values() -%}
            {%- do values.append(posthog_migrate.quote_identifier(column.name)) -%}
        {%- endfor -%}
        (
            select
                *,
                cast(hash(posthog_row_hash, row_number() over (partition by posthog_row_hash)) >> 1 as bigint)
                    as source_row_locator
            from (select *, hash({{ values | join(', ') }}) as posthog_row_hash from {{ table.relation }}) as hashed
        ) as located
    {%- endif -%}
{%- endmacro %}
