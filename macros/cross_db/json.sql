{#
    JSON building that behaves the same on every warehouse: keys whose value is null are left out, numbers stay
    numbers, booleans stay booleans, and the result is JSON text (so the loader can splice it into a request body).
    `pairs` is a list of [key, sql_expression, ...]; keys are literals, values are SQL, further items ignored.
#}

{% macro json_object_text(pairs) %}
    {{ return(adapter.dispatch('json_object_text', 'posthog_migrate')(pairs)) }}
{% endmacro %}

{% macro default__json_object_text(pairs) %}
    {{ exceptions.raise_compiler_error(
        "posthog_migrate.json_object_text is not implemented for the '" ~ target.type ~ "' adapter. "
        ~ "Supported: duckdb, snowflake, bigquery. Override it with a dispatch config if you need another."
    ) }}
{% endmacro %}

{% macro duckdb__json_object_text(pairs) -%}
    {#- concat() skips null arguments, so a null value drops its whole `,"key":value` member; twice as fast as
        building an object and stripping nulls with json_merge_patch -#}
    {%- if pairs | length == 0 -%}
        '{}'
    {%- else -%}
        concat('{', substr(concat(
            {%- for pair in pairs %}
            {{ posthog_migrate.sql_string(',' ~ (pair[0] | tojson) ~ ':') }} || cast(to_json({{ pair[1] }}) as varchar)
            {{- "," if not loop.last }}
            {%- endfor %}
        ), 2), '}')
    {%- endif -%}
{%- endmacro %}

{% macro snowflake__json_object_text(pairs) -%}
    {#- object_construct (not _keep_null) drops null-valued keys, which is what we want -#}
    to_json(object_construct(
        {%- for pair in pairs %}
        {{ posthog_migrate.sql_string(pair[0]) }}, {{ pair[1] }}{{ "," if not loop.last }}
        {%- endfor %}
    ))
{%- endmacro %}

{% macro bigquery__json_object_text(pairs) -%}
    {%- if pairs | length == 0 -%}
        '{}'
    {%- else -%}
        to_json_string(json_strip_nulls(json_object(
            {%- for pair in pairs %}
            {{ posthog_migrate.sql_string(pair[0]) }}, {{ pair[1] }}{{ "," if not loop.last }}
            {%- endfor %}
        )))
    {%- endif -%}
{%- endmacro %}


{#-
    Add keys in front of a JSON object held as text, by string splicing: no re-parse of a large object. Values
    are JSON text (a null value leaves its key out). Only for keys the object cannot already hold: the name
    catalog test keeps mappings off them.
-#}
{% macro json_text_prepend(json_text, pairs) -%}
    {%- set members = [] -%}
    {%- for pair in pairs -%}
        {#- || (not concat, which skips nulls on DuckDB) so a null value nulls the member and drops it -#}
        {%- do members.append(
            'coalesce(' ~ posthog_migrate.sql_string('"' ~ pair[0] ~ '":') ~ ' || ' ~ pair[1] ~ " || ',', '')"
        ) -%}
    {%- endfor -%}
    case
        when {{ json_text }} = '{}' then {{ dbt.concat(["'{'", 'rtrim(' ~ dbt.concat(members) ~ ", ',')", "'}'"]) }}
        else {{ dbt.concat(["'{'"] + members + ['substr(' ~ json_text ~ ', 2)']) }}
    end
{%- endmacro %}


{#- A SQL string as a JSON string literal (quoted and escaped), for building payloads by concatenation. -#}
{% macro json_quote(expr) %}
    {{ return(adapter.dispatch('json_quote', 'posthog_migrate')(expr)) }}
{% endmacro %}

{% macro default__json_quote(expr) %}
    {{ exceptions.raise_compiler_error(
        "posthog_migrate.json_quote is not implemented for the '" ~ target.type ~ "' adapter.") }}
{% endmacro %}

{% macro duckdb__json_quote(expr) -%}
    cast(to_json(cast({{ expr }} as varchar)) as varchar)
{%- endmacro %}

{% macro snowflake__json_quote(expr) -%}
    to_json(to_variant(cast({{ expr }} as varchar)))
{%- endmacro %}

{% macro bigquery__json_quote(expr) -%}
    to_json_string(cast({{ expr }} as string))
{%- endmacro %}


{#- Read one top-level key of a JSON object held as text, as text (null when absent). -#}
{% macro json_text_get(json_text, key) %}
    {{ return(adapter.dispatch('json_text_get', 'posthog_migrate')(json_text, key)) }}
{% endmacro %}

{% macro default__json_text_get(json_text, key) %}
    {{ exceptions.raise_compiler_error(
        "posthog_migrate.json_text_get is not implemented for the '" ~ target.type ~ "' adapter.") }}
{% endmacro %}

{% macro duckdb__json_text_get(json_text, key) -%}
    json_extract_string({{ json_text }}, '$."{{ key }}"')
{%- endmacro %}

{% macro snowflake__json_text_get(json_text, key) -%}
    parse_json({{ json_text }}):"{{ key }}"::varchar
{%- endmacro %}

{% macro bigquery__json_text_get(json_text, key) -%}
    json_value(parse_json({{ json_text }}), '$."{{ key }}"')
{%- endmacro %}


{#- A Jinja string as a SQL string literal: backslashes escape in Snowflake and BigQuery, not in DuckDB. -#}
{% macro sql_string(value) %}
    {{ return(adapter.dispatch('sql_string', 'posthog_migrate')(value)) }}
{% endmacro %}

{% macro default__sql_string(value) -%}
    '{{ value | replace("'", "''") }}'
{%- endmacro %}

{% macro snowflake__sql_string(value) -%}
    '{{ value | replace("\\", "\\\\") | replace("'", "\\'") }}'
{%- endmacro %}

{% macro bigquery__sql_string(value) -%}
    {{ posthog_migrate.snowflake__sql_string(value) }}
{%- endmacro %}


{#- Whether a text column holds a JSON object. -#}
{% macro is_json_object(expr) %}
    {{ return(adapter.dispatch('is_json_object', 'posthog_migrate')(expr)) }}
{% endmacro %}

{% macro default__is_json_object(expr) %}
    {{ exceptions.raise_compiler_error(
        "posthog_migrate.is_json_object is not implemented for the '" ~ target.type ~ "' adapter.") }}
{% endmacro %}

{% macro duckdb__is_json_object(expr) -%}
    coalesce(json_valid({{ expr }}) and json_type({{ expr }}) = 'OBJECT', false)
{%- endmacro %}

{% macro snowflake__is_json_object(expr) -%}
    coalesce(is_object(try_parse_json({{ expr }})), false)
{%- endmacro %}

{% macro bigquery__is_json_object(expr) -%}
    coalesce(json_type(safe.parse_json({{ expr }})) = 'object', false)
{%- endmacro %}
