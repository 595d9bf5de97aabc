{#-
    A source time as a UTC timestamp without zone, whatever its type and whatever the session's time zone, so the
    output is the same on every machine. `data_type` is the source column's type (any warehouse's spelling):
    zoned types are converted to UTC; text is parsed, honouring an offset when it has one (else it is UTC, as
    Heap and Amplitude write it; unparseable text is null, so the row is quarantined); anything else is cast.
    Sub-microsecond digits are truncated, never rounded: the same rule as epoch_ms.
-#}
{% macro utc_timestamp(expr, data_type) %}
    {{ return(adapter.dispatch('utc_timestamp', 'posthog_migrate')(expr, data_type | lower)) }}
{% endmacro %}

{#- Text that ends in a zone: Z, +02, +0200, +02:00 after a time of day -#}
{% macro _zoned_text_pattern() -%}
    [0-9]:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)? ?(Z|[+-][0-9]{2}(:?[0-9]{2})?)$
{%- endmacro %}

{% macro _is_text_type(data_type) %}
    {{ return(modules.re.match('^(varchar|text|string|char|character|nvarchar)', data_type) is not none) }}
{% endmacro %}

{% macro default__utc_timestamp(expr, data_type) %}
    {{- posthog_migrate.unsupported_adapter('utc_timestamp') -}}
{% endmacro %}

{% macro duckdb__utc_timestamp(expr, data_type) -%}
    {%- if 'with time zone' in data_type or data_type == 'timestamptz' -%}
        {#- the instant's microseconds: timezone() consults ICU per row, about 10x slower; ±infinity has none -#}
        coalesce(make_timestamp(epoch_us({{ expr }})), timezone('UTC', {{ expr }}))
    {%- elif data_type == 'timestamp_ns' -%}
        make_timestamp(epoch_ns({{ expr }}) // 1000)
    {%- elif posthog_migrate._is_text_type(data_type) -%}
        case
            when regexp_matches({{ expr }}, '{{ posthog_migrate._zoned_text_pattern() }}')
                then timezone('UTC', try_cast({{ expr }} as timestamptz))
            else try_cast({{ expr }} as timestamp)
        end
    {%- else -%}
        cast({{ expr }} as timestamp)
    {%- endif -%}
{%- endmacro %}

{% macro snowflake__utc_timestamp(expr, data_type) -%}
    {%- if data_type.startswith('timestamp_tz') or data_type.startswith('timestamp_ltz') -%}
        convert_timezone('UTC', {{ expr }})::timestamp_ntz
    {%- elif posthog_migrate._is_text_type(data_type) -%}
        case
            when regexp_like({{ expr }}, '.*{{ posthog_migrate._zoned_text_pattern() }}')
                then convert_timezone('UTC', try_to_timestamp_tz({{ expr }}))::timestamp_ntz
            else try_to_timestamp_ntz({{ expr }})
        end
    {%- else -%}
        cast({{ expr }} as timestamp_ntz)
    {%- endif -%}
{%- endmacro %}

{#- AT TIME ZONE gives the UTC wall clock of an instant (Redshift has no TRY_CAST: text that is no time fails) -#}
{% macro redshift__utc_timestamp(expr, data_type) -%}
    {%- if 'with time zone' in data_type or data_type == 'timestamptz' -%}
        ({{ expr }} at time zone 'UTC')
    {%- elif posthog_migrate._is_text_type(data_type) -%}
        case
            when {{ posthog_migrate.regex_matches(expr, posthog_migrate._zoned_text_pattern()) }}
                then (cast({{ expr }} as timestamptz) at time zone 'UTC')
            else cast({{ expr }} as timestamp)
        end
    {%- else -%}
        cast({{ expr }} as timestamp)
    {%- endif -%}
{%- endmacro %}

{#- BigQuery's TIMESTAMP is an instant; DATETIME and text without an offset are read as UTC (no session zone). -#}
{% macro bigquery__utc_timestamp(expr, data_type) -%}
    {%- if posthog_migrate._is_text_type(data_type) -%}
        safe.timestamp({{ expr }}, 'UTC')
    {%- elif data_type == 'timestamp' -%}
        {{ expr }}
    {%- else -%}
        timestamp({{ expr }}, 'UTC')
    {%- endif -%}
{%- endmacro %}


{#- A column of a relation as a UTC timestamp if it exists (any case), else a typed null. -#}
{% macro utc_timestamp_column_or_null(columns_by_name, name) -%}
    {%- if name in columns_by_name -%}
        {%- set column = columns_by_name[name] -%}
        {{ posthog_migrate.utc_timestamp(posthog_migrate.quote_identifier(column.name), column.dtype) }}
    {%- else -%}
        cast(null as {{ dbt.type_timestamp() }})
    {%- endif -%}
{%- endmacro %}


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


{#-
    Milliseconds since the Unix epoch of a UTC timestamp, as an integer, sub-millisecond digits truncated on every
    warehouse (DuckDB's epoch_ms alone would round them), so uuids built from it agree everywhere.
-#}
{% macro epoch_ms(expr) %}
    {{ return(adapter.dispatch('epoch_ms', 'posthog_migrate')(expr)) }}
{% endmacro %}
{% macro default__epoch_ms(expr) %}
    {{- posthog_migrate.unsupported_adapter('epoch_ms') -}}
{% endmacro %}

{% macro duckdb__epoch_ms(expr) -%}
    epoch_ms(date_trunc('millisecond', cast({{ expr }} as timestamp)))
{%- endmacro %}

{% macro snowflake__epoch_ms(expr) -%}
    date_part(epoch_millisecond, date_trunc('millisecond', cast({{ expr }} as timestamp_ntz)))
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
    unix_millis(timestamp_trunc(cast({{ expr }} as timestamp), millisecond))
{%- endmacro %}


{#- The build's time, in UTC without zone, like the source times it is compared with. -#}
{% macro utc_now() %}
    {{ return(adapter.dispatch('utc_now', 'posthog_migrate')()) }}
{% endmacro %}

{% macro default__utc_now() -%}
    {{ dbt.current_timestamp() }}
{%- endmacro %}

{% macro duckdb__utc_now() -%}
    cast(now() at time zone 'UTC' as timestamp)
{%- endmacro %}

{#- sysdate() is UTC without a zone; current_timestamp() is in the session's time zone -#}
{% macro snowflake__utc_now() -%}
    sysdate()
{%- endmacro %}

{#- getdate() is UTC without a zone -#}
{% macro redshift__utc_now() -%}
    getdate()
{%- endmacro %}

{% macro bigquery__utc_now() -%}
    current_timestamp()
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
