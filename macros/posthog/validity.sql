{#
    What PostHog refuses or cannot store, decided where a row is built so that a refused row is quarantined with
    its reason (and counted so in posthog_reconciliation) instead of being counted as emitted. The loader checks
    the same limits again before sending (loader/posthog_loader/batch.py); docs/contract.md lists them.
#}

{#-
    Capture's Kafka producer refuses a message over 1,000,000 bytes (`kafka_producer_message_max_bytes`) and the
    whole request with it: the payload's UTF-8 bytes may not exceed it. The loader's MAX_EVENT_BYTES. Dispatched:
    a warehouse whose text holds less lowers it (and words its reason).
-#}
{% macro posthog_max_event_bytes() %}
    {{ return(adapter.dispatch('posthog_max_event_bytes', 'posthog_migrate')()) }}
{% endmacro %}

{% macro default__posthog_max_event_bytes() %}{{ return(1000000) }}{% endmacro %}

{#- Redshift holds a payload in a VARCHAR, at most 65,535 bytes -#}
{% macro redshift__posthog_max_event_bytes() %}{{ return(65535) }}{% endmacro %}


{#-
    The times PostHog can store, as [first, after last): ClickHouse sorts and deduplicates events by
    toDate(timestamp), and its Date type spans 1970-01-01 to 2149-06-06; capture turns a year outside 0-9999 into
    1970-01-01. Times outside are not moved, they are quarantined.
-#}
{% macro posthog_storable_times() %}
    {{ return(['1970-01-01 00:00:00', '2149-06-07 00:00:00']) }}
{% endmacro %}

{#- Why PostHog cannot store a time (null when it can, and for null). -#}
{% macro posthog_time_rejection(expr) -%}
    {%- set first, after_last = posthog_migrate.posthog_storable_times() -%}
    case
        when {{ expr }} < {{ dbt.cast(posthog_migrate.sql_string(first), dbt.type_timestamp()) }}
            then 'time before 1970-01-01, which PostHog cannot store'
        when {{ expr }} >= {{ dbt.cast(posthog_migrate.sql_string(after_last), dbt.type_timestamp()) }}
            then 'time after 2149-06-06, which PostHog cannot store'
    end
{%- endmacro %}

{#- The end of the times PostHog can store, in milliseconds since 1970 (2149-06-07). -#}
{% macro posthog_storable_epoch_ms() %}{{ return(5662310400000) }}{% endmacro %}


{#- A time when PostHog can store it, else null. -#}
{% macro posthog_storable_time(expr) -%}
    case when ({{ posthog_migrate.posthog_time_rejection(expr) }}) is null then {{ expr }} end
{%- endmacro %}


{#- The quarantine reasons, worded as the loader words its own. -#}
{% macro payload_too_large_reason() %}
    {{ return(adapter.dispatch('payload_too_large_reason', 'posthog_migrate')()) }}
{% endmacro %}

{% macro default__payload_too_large_reason() -%}
    {{ posthog_migrate.sql_string("payload is over PostHog's 1,000,000-byte event limit") }}
{%- endmacro %}

{% macro redshift__payload_too_large_reason() -%}
    {{ posthog_migrate.sql_string("payload is over Redshift's 65,535-byte VARCHAR, which must hold it") }}
{%- endmacro %}

{% macro refused_number_reason(property_expr=none) -%}
    {%- set refused = 'a number PostHog refuses (NaN, Infinity or beyond ±1.8e308)' -%}
    {%- if property_expr -%}
        'property ' || {{ property_expr }} || ' holds {{ refused }}'
    {%- else -%}
        'properties hold {{ refused }}'
    {%- endif -%}
{%- endmacro %}


{#- Why PostHog would refuse an event whose properties are JSON text from a source, of `payload_bytes`; else null. -#}
{% macro posthog_refusal_reason(properties, payload_bytes) -%}
    case
        when {{ posthog_migrate.json_text_has_refused_number(properties) }}
            then {{ posthog_migrate.refused_number_reason() }}
        when {{ payload_bytes }} > {{ posthog_migrate.posthog_max_event_bytes() }}
            then {{ posthog_migrate.payload_too_large_reason() }}
    end
{%- endmacro %}


{#- The UTF-8 bytes of a string. -#}
{% macro byte_length(expr) %}
    {{ return(adapter.dispatch('byte_length', 'posthog_migrate')(expr)) }}
{% endmacro %}

{% macro default__byte_length(expr) %}
    {{- posthog_migrate.unsupported_adapter('byte_length') -}}
{% endmacro %}

{% macro duckdb__byte_length(expr) -%}
    strlen({{ expr }})
{%- endmacro %}

{% macro snowflake__byte_length(expr) -%}
    octet_length(to_binary({{ expr }}, 'UTF-8'))
{%- endmacro %}

{% macro redshift__byte_length(expr) -%}
    octet_length({{ expr }})
{%- endmacro %}

{% macro bigquery__byte_length(expr) -%}
    byte_length({{ expr }})
{%- endmacro %}


{#-
    Whether JSON text holds a number PostHog's parser refuses, which fails the whole request: NaN and Infinity
    (not JSON at all, yet DuckDB reads and writes them) and numbers beyond a double's range (`1e999`, a 310-digit
    integer; `1e-999` is fine, it reads as 0). A cheap pattern finds the rows that may hold one; only those have
    their numbers read, outside strings, as doubles.
-#}
{% macro json_text_has_refused_number(json_text) %}
    {{ return(adapter.dispatch('json_text_has_refused_number', 'posthog_migrate')(json_text)) }}
{% endmacro %}

{#- an exponent of three digits, or a run of 200 digits (a 2-digit exponent needs 211 to overflow) -#}
{% macro _refused_number_candidate_pattern() %}{{ return('[0-9][eE][+]?[0-9]{3}|[0-9]{200}|NaN|Infinity') }}{% endmacro %}

{#- a whole string literal (skipped), or a number token outside strings (captured) -#}
{% macro _json_number_token_pattern() %}{{ return('"(?:[^"\\\\]|\\\\.)*"|(-?[0-9][-+.eE0-9]*|NaN|-?Infinity)') }}{% endmacro %}

{% macro default__json_text_has_refused_number(json_text) %}
    {{- posthog_migrate.unsupported_adapter('json_text_has_refused_number') -}}
{% endmacro %}

{% macro duckdb__json_text_has_refused_number(json_text) -%}
    coalesce(
        {{ posthog_migrate.regex_matches(json_text, posthog_migrate._refused_number_candidate_pattern()) }}
        and list_bool_or(list_transform(
            regexp_extract_all({{ json_text }}, {{ posthog_migrate.sql_string(posthog_migrate._json_number_token_pattern()) }}, 1),
            lambda token: token != '' and not isfinite(try_cast(token as double))
        )),
        false
    )
{%- endmacro %}

{% macro snowflake__json_text_has_refused_number(json_text) -%}
    {#- Snowflake's expressions have no (?:), so the string literal is group 2 here and the number group 1 -#}
    coalesce(
        {{ posthog_migrate.regex_matches(json_text, posthog_migrate._refused_number_candidate_pattern()) }}
        and (select boolor_agg(
            token.value::varchar in ('NaN', 'Infinity', '-Infinity')
            or try_to_double(token.value::varchar) is null
            or try_to_double(token.value::varchar) in ('inf'::float, '-inf'::float)
        ) from table(flatten(input => regexp_substr_all(
            {{ json_text }}, {{ posthog_migrate.sql_string('(-?[0-9][-+.eE0-9]*|NaN|-?Infinity)|"([^"\\\\]|\\\\.)*"') }},
            1, 1, 'e', 1
        ))) as token where token.value::varchar != ''),
        false
    )
{%- endmacro %}

{#-
    Redshift has no function returning every match of a pattern, so its strict JSON parser decides: NaN and
    Infinity are not JSON. (Only JSON-typed Heap columns reach this there; Amplitude does not run on Redshift.)
-#}
{% macro redshift__json_text_has_refused_number(json_text) -%}
    coalesce(not is_valid_json({{ json_text }}), false)
{%- endmacro %}

{% macro bigquery__json_text_has_refused_number(json_text) -%}
    coalesce(
        {{ posthog_migrate.regex_matches(json_text, posthog_migrate._refused_number_candidate_pattern()) }}
        and (select logical_or(
            token in ('NaN', 'Infinity', '-Infinity')
            or safe_cast(token as float64) is null
            or is_inf(safe_cast(token as float64))
        ) from unnest(regexp_extract_all(
            {{ json_text }}, {{ posthog_migrate.sql_string(posthog_migrate._json_number_token_pattern()) }}
        )) as token where token != ''),
        false
    )
{%- endmacro %}
