{#-
    A source's column or table name as a quoted identifier, whatever it holds: adapter.quote() wraps a name in
    quotes without escaping, so a Heap column named `say "hi"` would end the identifier early and break the build.
-#}
{% macro quote_identifier(name) %}
    {{ return(adapter.dispatch('quote_identifier', 'posthog_migrate')(name)) }}
{% endmacro %}

{#- Standard SQL (DuckDB, Snowflake, PostgreSQL, Redshift): a double quote inside is written twice. -#}
{% macro default__quote_identifier(name) -%}
    "{{ name | replace('"', '""') }}"
{%- endmacro %}

{#- BigQuery quotes with backticks and reads backslash escapes inside them. -#}
{% macro bigquery__quote_identifier(name) -%}
    `{{ name | replace('\\', '\\\\') | replace('`', '\\`') }}`
{%- endmacro %}
