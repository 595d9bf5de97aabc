{#- Whether a float is a number JSON can write: not NaN, not an infinity. -#}
{% macro is_finite(expr) %}
    {{ return(adapter.dispatch('is_finite', 'posthog_migrate')(expr)) }}
{% endmacro %}

{% macro default__is_finite(expr) %}
    {{- posthog_migrate.unsupported_adapter('is_finite') -}}
{% endmacro %}

{% macro duckdb__is_finite(expr) -%}
    isfinite({{ expr }})
{%- endmacro %}

{#- Snowflake's NaN equals itself -#}
{% macro snowflake__is_finite(expr) -%}
    ({{ expr }} not in ('NaN'::float, 'inf'::float, '-inf'::float))
{%- endmacro %}

{% macro redshift__is_finite(expr) -%}
    ({{ expr }} not in (
        cast('NaN' as double precision), cast('Infinity' as double precision), cast('-Infinity' as double precision)
    ))
{%- endmacro %}

{% macro bigquery__is_finite(expr) -%}
    not (is_nan({{ expr }}) or is_inf({{ expr }}))
{%- endmacro %}


{#- A float, or null when it is NaN or infinite: JSON has no way to write those (the row is quarantined). -#}
{% macro finite_or_null(expr) -%}
    case when {{ posthog_migrate.is_finite(expr) }} then {{ expr }} end
{%- endmacro %}
