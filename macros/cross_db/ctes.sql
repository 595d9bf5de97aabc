{#-
    Written between `as` and the body of a CTE that a query reads twice but should compute where it is read: DuckDB
    otherwise stores such a CTE whole, every column of it, spilling to disk at scale. The other warehouses plan CTEs
    themselves.
-#}
{% macro not_materialized() %}
    {{ return(adapter.dispatch('not_materialized', 'posthog_migrate')()) }}
{% endmacro %}

{% macro default__not_materialized() %}
    {{- posthog_migrate.unsupported_adapter('not_materialized') -}}
{% endmacro %}

{% macro duckdb__not_materialized() -%}
    not materialized
{%- endmacro %}

{% macro snowflake__not_materialized() %}{% endmacro %}

{% macro bigquery__not_materialized() %}{% endmacro %}

{% macro redshift__not_materialized() %}{% endmacro %}
