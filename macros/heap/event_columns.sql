{#- Heap's page columns, from which $current_url is rebuilt; staging lifts them out of the properties. -#}
{% macro heap_url_columns() %}
    {{ return(['domain', 'path', 'query', 'hash', 'landing_page', 'landing_page_query', 'landing_page_hash']) }}
{% endmacro %}


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
