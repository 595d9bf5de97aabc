{#- Heap's page columns, from which $current_url is rebuilt; staging lifts them out of the properties. -#}
{% macro heap_url_columns() %}
    {{ return(['domain', 'path', 'query', 'hash', 'landing_page', 'landing_page_query', 'landing_page_hash']) }}
{% endmacro %}


{#-
    Tells the physical copies of a source row apart where the warehouse exposes them, as `source_row_locator`:
    DuckDB's rowid for a table. A view has no rowid, so there each row is located by a hash of its values and its
    copy number among identical rows: copies are alike, so which copy gets which number does not matter, and the
    same row gets the same locator on every read. Elsewhere null (rows are matched on their event id instead).
    heap_located_rows is the FROM clause that reads `table` (from heap_source_tables) as `located`, and
    heap_row_locator the locator's expression over it. A DuckDB table is read directly, not through a subquery:
    DuckDB pushes a filter on an expression of a column (a slice's or a read window's time) into a table scan,
    but not through a subquery.
-#}
{% macro heap_located_rows(table, columns_by_name) %}
    {{ return(adapter.dispatch('heap_located_rows', 'posthog_migrate')(table, columns_by_name)) }}
{% endmacro %}

{% macro default__heap_located_rows(table, columns_by_name) -%}
    (select *, cast(null as {{ dbt.type_bigint() }}) as source_row_locator from {{ table.relation }}) as located
{%- endmacro %}

{% macro duckdb__heap_located_rows(table, columns_by_name) -%}
    {%- if not table.is_view -%}
        {{ table.relation }} as located
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

{% macro heap_row_locator(table) %}
    {{ return(adapter.dispatch('heap_row_locator', 'posthog_migrate')(table)) }}
{% endmacro %}

{% macro default__heap_row_locator(table) -%}
    located.source_row_locator
{%- endmacro %}

{% macro duckdb__heap_row_locator(table) -%}
    {{- 'located.source_row_locator' if table.is_view else 'located.rowid' -}}
{%- endmacro %}
