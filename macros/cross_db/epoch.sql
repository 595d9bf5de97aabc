{#- Microseconds since the Unix epoch (a number) as a UTC timestamp without zone. -#}
{% macro timestamp_from_epoch_micros(expr) %}
    {{ return(adapter.dispatch('timestamp_from_epoch_micros', 'posthog_migrate')(expr)) }}
{% endmacro %}
{% macro default__timestamp_from_epoch_micros(expr) %}
    {{- posthog_migrate.unsupported_adapter('timestamp_from_epoch_micros') -}}
{% endmacro %}

{% macro duckdb__timestamp_from_epoch_micros(expr) -%}
    make_timestamp(cast({{ expr }} as bigint))
{%- endmacro %}

{% macro snowflake__timestamp_from_epoch_micros(expr) -%}
    to_timestamp_ntz(cast({{ expr }} as number(38, 0)), 6)
{%- endmacro %}

{% macro bigquery__timestamp_from_epoch_micros(expr) -%}
    timestamp_micros(cast({{ expr }} as int64))
{%- endmacro %}

{% macro redshift__timestamp_from_epoch_micros(expr) -%}
    timestamp 'epoch' + cast({{ expr }} as bigint) * interval '1 microsecond'
{%- endmacro %}
