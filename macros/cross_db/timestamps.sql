{#- A UTC timestamp as ISO 8601 text with microseconds and an explicit offset: 2024-07-06T12:31:08.412000+00:00 -#}
{% macro iso8601_utc(expr) %}
    {{ return(adapter.dispatch('iso8601_utc', 'posthog_migrate')(expr)) }}
{% endmacro %}
{% macro default__iso8601_utc(expr) %}
    {{- posthog_migrate.unsupported_adapter('iso8601_utc') -}}
{% endmacro %}

{% macro duckdb__iso8601_utc(expr) -%}
    strftime(cast({{ expr }} as timestamp), '%Y-%m-%dT%H:%M:%S.%f+00:00')
{%- endmacro %}

{% macro snowflake__iso8601_utc(expr) -%}
    to_char(cast({{ expr }} as timestamp_ntz), 'YYYY-MM-DD"T"HH24:MI:SS.FF6') || '+00:00'
{%- endmacro %}

{% macro redshift__iso8601_utc(expr) -%}
    to_char(cast({{ expr }} as timestamp), 'YYYY-MM-DD"T"HH24:MI:SS.US') || '+00:00'
{%- endmacro %}

{% macro bigquery__iso8601_utc(expr) -%}
    format_timestamp('%Y-%m-%dT%H:%M:%E6S+00:00', cast({{ expr }} as timestamp), 'UTC')
{%- endmacro %}


{#- Milliseconds since the Unix epoch of a UTC timestamp, as an integer. -#}
{% macro epoch_ms(expr) %}
    {{ return(adapter.dispatch('epoch_ms', 'posthog_migrate')(expr)) }}
{% endmacro %}
{% macro default__epoch_ms(expr) %}
    {{- posthog_migrate.unsupported_adapter('epoch_ms') -}}
{% endmacro %}

{% macro duckdb__epoch_ms(expr) -%}
    epoch_ms(cast({{ expr }} as timestamp))
{%- endmacro %}

{% macro snowflake__epoch_ms(expr) -%}
    date_part(epoch_millisecond, cast({{ expr }} as timestamp_ntz))
{%- endmacro %}

{#-
    Whole seconds, then the milliseconds digits: Redshift's EXTRACT returns only the part it names (no fraction),
    and DATEDIFF(millisecond, ...) counts boundaries, not elapsed time.
-#}
{% macro redshift__epoch_ms(expr) -%}
    (cast(floor(extract(epoch from cast({{ expr }} as timestamp))) as bigint) * 1000
        + cast(to_char(cast({{ expr }} as timestamp), 'MS') as bigint))
{%- endmacro %}

{% macro bigquery__epoch_ms(expr) -%}
    unix_millis(cast({{ expr }} as timestamp))
{%- endmacro %}


{#- The moment after which PostHog clamps an event's timestamp to "now": 23 hours ahead of the build. -#}
{% macro posthog_future_limit() %}
    {{ return(adapter.dispatch('posthog_future_limit', 'posthog_migrate')()) }}
{% endmacro %}

{% macro default__posthog_future_limit() -%}
    {{ dbt.dateadd('hour', 23, dbt.current_timestamp()) }}
{%- endmacro %}

{% macro duckdb__posthog_future_limit() -%}
    cast(now() at time zone 'UTC' as timestamp) + interval 23 hour
{%- endmacro %}

{#- sysdate() is UTC without a zone, like Heap's times; current_timestamp() is in the session's time zone -#}
{% macro snowflake__posthog_future_limit() -%}
    dateadd(hour, 23, sysdate())
{%- endmacro %}

{#- getdate() is UTC without a zone (Redshift sessions run in UTC unless a user sets timezone) -#}
{% macro redshift__posthog_future_limit() -%}
    getdate() + interval '23 hours'
{%- endmacro %}

{#- dbt.dateadd gives a DATETIME on BigQuery, which does not compare with Heap's TIMESTAMP columns -#}
{% macro bigquery__posthog_future_limit() -%}
    timestamp_add(current_timestamp(), interval 23 hour)
{%- endmacro %}
