{#- A relation of literal text rows (a list of lists, None for null) with the given column names, for a from clause. -#}
{% macro literal_rows(column_names, rows) %}
    {{ return(adapter.dispatch('literal_rows', 'posthog_migrate')(column_names, rows)) }}
{% endmacro %}
{% macro default__literal_rows(column_names, rows) %}
    {{- posthog_migrate.unsupported_adapter('literal_rows') -}}
{% endmacro %}

{% macro _literal_text(value) -%}
    {{ 'cast(null as ' ~ dbt.type_string() ~ ')' if value is none else posthog_migrate.sql_string(value) }}
{%- endmacro %}

{% macro duckdb__literal_rows(column_names, rows) -%}
    (values
        {%- for row in rows %}
        ({% for value in row %}{{ posthog_migrate._literal_text(value) }}{{ ', ' if not loop.last }}{% endfor %})
        {{- ',' if not loop.last }}
        {%- endfor %}
    ) as literal_rows ({{ column_names | join(', ') }})
{%- endmacro %}

{% macro snowflake__literal_rows(column_names, rows) -%}
    {{ posthog_migrate.duckdb__literal_rows(column_names, rows) }}
{%- endmacro %}

{% macro bigquery__literal_rows(column_names, rows) -%}
    unnest(array<struct<{% for name in column_names %}{{ name }} string{{ ', ' if not loop.last }}{% endfor %}>>[
        {%- for row in rows %}
        ({% for value in row %}{{ posthog_migrate._literal_text(value) }}{{ ', ' if not loop.last }}{% endfor %})
        {{- ',' if not loop.last }}
        {%- endfor %}
    ]) as literal_rows
{%- endmacro %}

{#- Redshift has no multi-row VALUES in a from clause -#}
{% macro redshift__literal_rows(column_names, rows) -%}
    (
        {%- for row in rows %}
        select {% for value in row %}{{ posthog_migrate._literal_text(value) }} as {{ column_names[loop.index0] }}
        {{- ', ' if not loop.last }}{% endfor %}
        {%- if not loop.last %} union all{% endif %}
        {%- endfor %}
    ) as literal_rows
{%- endmacro %}
