{#- A float, or null when it is NaN or infinite: JSON has no way to write those, and PostHog would reject the batch. -#}
{% macro finite_or_null(expr) %}
    {{ return(adapter.dispatch('finite_or_null', 'posthog_migrate')(expr)) }}
{% endmacro %}
{% macro default__finite_or_null(expr) %}
    {{- posthog_migrate.unsupported_adapter('finite_or_null') -}}
{% endmacro %}

{% macro duckdb__finite_or_null(expr) -%}
    case when isfinite({{ expr }}) then {{ expr }} end
{%- endmacro %}

{% macro snowflake__finite_or_null(expr) -%}
    case when {{ expr }} not in ('NaN'::float, 'inf'::float, '-inf'::float) then {{ expr }} end
{%- endmacro %}

{% macro redshift__finite_or_null(expr) -%}
    case when {{ expr }} not in (
        cast('NaN' as double precision), cast('Infinity' as double precision), cast('-Infinity' as double precision)
    ) then {{ expr }} end
{%- endmacro %}

{% macro bigquery__finite_or_null(expr) -%}
    case when not (is_nan({{ expr }}) or is_inf({{ expr }})) then {{ expr }} end
{%- endmacro %}
