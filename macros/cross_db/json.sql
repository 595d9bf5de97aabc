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


{#- A warehouse JSON value (DuckDB JSON, Snowflake VARIANT, BigQuery JSON) as JSON text. -#}
{% macro json_to_text(expr) %}
    {{ return(adapter.dispatch('json_to_text', 'posthog_migrate')(expr)) }}
{% endmacro %}

{% macro default__json_to_text(expr) %}
    {{ exceptions.raise_compiler_error(
        "posthog_migrate.json_to_text is not implemented for the '" ~ target.type ~ "' adapter.") }}
{% endmacro %}

{% macro duckdb__json_to_text(expr) -%}
    cast({{ expr }} as varchar)
{%- endmacro %}

{% macro snowflake__json_to_text(expr) -%}
    to_json({{ expr }})
{%- endmacro %}

{% macro bigquery__json_to_text(expr) -%}
    to_json_string({{ expr }})
{%- endmacro %}


{#- JSON text as the warehouse's JSON value, to nest it inside an object being built. -#}
{% macro json_parse(expr) %}
    {{ return(adapter.dispatch('json_parse', 'posthog_migrate')(expr)) }}
{% endmacro %}

{% macro default__json_parse(expr) %}
    {{ exceptions.raise_compiler_error(
        "posthog_migrate.json_parse is not implemented for the '" ~ target.type ~ "' adapter.") }}
{% endmacro %}

{% macro duckdb__json_parse(expr) -%}
    json({{ expr }})
{%- endmacro %}

{% macro snowflake__json_parse(expr) -%}
    parse_json({{ expr }})
{%- endmacro %}

{% macro bigquery__json_parse(expr) -%}
    parse_json({{ expr }})
{%- endmacro %}


{#-
    Rename top-level keys of a JSON object held as text: `renames` is a list of [old, new]. A key absent from the
    object stays absent; the new name takes the old key's value, nested values intact.
-#}
{% macro json_text_rename_keys(json_text, renames) %}
    {{ return(adapter.dispatch('json_text_rename_keys', 'posthog_migrate')(json_text, renames)) }}
{% endmacro %}

{% macro default__json_text_rename_keys(json_text, renames) %}
    {{ exceptions.raise_compiler_error(
        "posthog_migrate.json_text_rename_keys is not implemented for the '" ~ target.type ~ "' adapter.") }}
{% endmacro %}

{% macro duckdb__json_text_rename_keys(json_text, renames) -%}
    {%- if renames | length == 0 -%}
        {{ json_text }}
    {%- else -%}
        {#- one merge patch: `"old": null` removes each old key, `"new": <old value>` adds it back renamed -#}
        cast(json_merge_patch({{ json_text }}, concat(
            '{',
            {%- for old, new in renames %}
            {{ posthog_migrate.sql_string((old | tojson) ~ ':null,') }},
            {%- endfor %}
            substr(concat(
                {%- for old, new in renames %}
                {{ posthog_migrate.sql_string(',' ~ (new | tojson) ~ ':') }}
                || cast(json_extract({{ json_text }}, {{ posthog_migrate.sql_string('$.' ~ (old | tojson)) }}) as varchar)
                {{- "," if not loop.last }}
                {%- endfor %}
            ), 2),
            '}'
        )) as varchar)
    {%- endif -%}
{%- endmacro %}

{% macro snowflake__json_text_rename_keys(json_text, renames) -%}
    {%- set ns = namespace(expr='parse_json(' ~ json_text ~ ')') -%}
    {%- for old, new in renames -%}
        {%- set value = 'parse_json(' ~ json_text ~ '):' ~ (old | tojson) -%}
        {%- set ns.expr = 'iff(' ~ value ~ ' is null, ' ~ ns.expr ~ ', object_insert(object_delete(' ~ ns.expr
            ~ ', ' ~ posthog_migrate.sql_string(old) ~ '), ' ~ posthog_migrate.sql_string(new) ~ ', ' ~ value ~ ', true))' -%}
    {%- endfor -%}
    to_json({{ ns.expr }})
{%- endmacro %}

{% macro bigquery__json_text_rename_keys(json_text, renames) -%}
    {%- set ns = namespace(expr='parse_json(' ~ json_text ~ ')') -%}
    {%- for old, new in renames -%}
        {%- set value = 'json_query(parse_json(' ~ json_text ~ '), ' ~ posthog_migrate.sql_string('$.' ~ (old | tojson)) ~ ')' -%}
        {%- set ns.expr = 'if(' ~ value ~ ' is null, ' ~ ns.expr ~ ', json_set(json_remove(' ~ ns.expr ~ ', '
            ~ posthog_migrate.sql_string('$.' ~ (old | tojson)) ~ '), ' ~ posthog_migrate.sql_string('$.' ~ (new | tojson))
            ~ ', ' ~ value ~ '))' -%}
    {%- endfor -%}
    to_json_string({{ ns.expr }})
{%- endmacro %}


{#- Set keys on a JSON object held as text (existing keys are overwritten; null values leave a key as it is). -#}
{% macro json_text_set(json_text, pairs) %}
    {{ return(adapter.dispatch('json_text_set', 'posthog_migrate')(json_text, pairs)) }}
{% endmacro %}

{% macro default__json_text_set(json_text, pairs) %}
    {{ exceptions.raise_compiler_error(
        "posthog_migrate.json_text_set is not implemented for the '" ~ target.type ~ "' adapter.") }}
{% endmacro %}

{% macro duckdb__json_text_set(json_text, pairs) -%}
    {#- the patch is built without null members, so it only ever sets -#}
    cast(json_merge_patch({{ json_text }}, {{ posthog_migrate.json_object_text(pairs) }}) as varchar)
{%- endmacro %}

{% macro snowflake__json_text_set(json_text, pairs) -%}
    {%- set ns = namespace(expr='parse_json(' ~ json_text ~ ')') -%}
    {%- for pair in pairs -%}
        {%- set ns.expr = 'iff((' ~ pair[1] ~ ') is null, ' ~ ns.expr ~ ', object_insert(' ~ ns.expr ~ ', '
            ~ posthog_migrate.sql_string(pair[0]) ~ ', ' ~ pair[1] ~ ', true))' -%}
    {%- endfor -%}
    to_json({{ ns.expr }})
{%- endmacro %}

{% macro bigquery__json_text_set(json_text, pairs) -%}
    {%- set ns = namespace(expr='parse_json(' ~ json_text ~ ')') -%}
    {%- for pair in pairs -%}
        {%- set ns.expr = 'if((' ~ pair[1] ~ ') is null, ' ~ ns.expr ~ ', json_set(' ~ ns.expr ~ ', '
            ~ posthog_migrate.sql_string('$.' ~ (pair[0] | tojson)) ~ ', ' ~ pair[1] ~ '))' -%}
    {%- endfor -%}
    to_json_string({{ ns.expr }})
{%- endmacro %}


{#-
    One row per top-level key of a JSON object held as text, as `entry_key` and `entry_value` (JSON text), with
    `id_columns` of the row carried along. A select statement over `relation`.
-#}
{% macro json_entries(relation, id_columns, json_column) %}
    {{ return(adapter.dispatch('json_entries', 'posthog_migrate')(relation, id_columns, json_column)) }}
{% endmacro %}

{% macro default__json_entries(relation, id_columns, json_column) %}
    {{ exceptions.raise_compiler_error(
        "posthog_migrate.json_entries is not implemented for the '" ~ target.type ~ "' adapter.") }}
{% endmacro %}

{% macro duckdb__json_entries(relation, id_columns, json_column) %}
    select
        {% for column in id_columns %}objects.{{ column }}, {% endfor %}
        entries.key as entry_key,
        cast(entries.value as varchar) as entry_value
    from {{ relation }} as objects, json_each(objects.{{ json_column }}) as entries
{% endmacro %}

{% macro snowflake__json_entries(relation, id_columns, json_column) %}
    select
        {% for column in id_columns %}objects.{{ column }}, {% endfor %}
        entries.key as entry_key,
        to_json(entries.value) as entry_value
    from {{ relation }} as objects, lateral flatten(input => parse_json(objects.{{ json_column }})) as entries
{% endmacro %}

{% macro bigquery__json_entries(relation, id_columns, json_column) %}
    select
        {% for column in id_columns %}objects.{{ column }}, {% endfor %}
        entry_key,
        to_json_string(json_query(parse_json(objects.{{ json_column }}), concat('$."', entry_key, '"')))
            as entry_value
    from {{ relation }} as objects, unnest(json_keys(parse_json(objects.{{ json_column }}), 1)) as entry_key
{% endmacro %}


{#- Aggregate: a JSON object (text) from key and JSON-text value columns, keys in order; '{}' when no rows. -#}
{% macro json_object_agg(key, value_text) %}
    {{ return(adapter.dispatch('json_object_agg', 'posthog_migrate')(key, value_text)) }}
{% endmacro %}

{% macro default__json_object_agg(key, value_text) %}
    {{ exceptions.raise_compiler_error(
        "posthog_migrate.json_object_agg is not implemented for the '" ~ target.type ~ "' adapter.") }}
{% endmacro %}

{% macro duckdb__json_object_agg(key, value_text) -%}
    {#- json_group_object takes no ORDER BY; a map built from ordered lists serializes in key order -#}
    coalesce(cast(to_json(map(
        list({{ key }} order by {{ key }}), list(json({{ value_text }}) order by {{ key }})
    )) as varchar), '{}')
{%- endmacro %}

{% macro snowflake__json_object_agg(key, value_text) -%}
    {#- Snowflake keeps an object's keys sorted -#}
    coalesce(to_json(object_agg({{ key }}, parse_json({{ value_text }}))), '{}')
{%- endmacro %}

{% macro bigquery__json_object_agg(key, value_text) -%}
    coalesce(to_json_string(json_object(
        array_agg({{ key }} order by {{ key }}), array_agg(parse_json({{ value_text }}) order by {{ key }})
    )), '{}')
{%- endmacro %}


{#- The first key of a JSON object held as text, and its value as text (strings unquoted): null when empty. -#}
{% macro json_text_first_key(json_text) %}
    {{ return(adapter.dispatch('json_text_first_key', 'posthog_migrate')(json_text)) }}
{% endmacro %}

{% macro json_text_first_value(json_text) %}
    {{ return(adapter.dispatch('json_text_first_value', 'posthog_migrate')(json_text)) }}
{% endmacro %}

{% macro default__json_text_first_key(json_text) %}
    {{ exceptions.raise_compiler_error(
        "posthog_migrate.json_text_first_key is not implemented for the '" ~ target.type ~ "' adapter.") }}
{% endmacro %}

{% macro default__json_text_first_value(json_text) %}
    {{ exceptions.raise_compiler_error(
        "posthog_migrate.json_text_first_value is not implemented for the '" ~ target.type ~ "' adapter.") }}
{% endmacro %}

{% macro duckdb__json_text_first_key(json_text) -%}
    json_keys({{ json_text }})[1]
{%- endmacro %}

{% macro duckdb__json_text_first_value(json_text) -%}
    json_extract_string({{ json_text }}, '$.' || to_json(json_keys({{ json_text }})[1]))
{%- endmacro %}

{% macro snowflake__json_text_first_key(json_text) -%}
    object_keys(parse_json({{ json_text }}))[0]::varchar
{%- endmacro %}

{% macro snowflake__json_text_first_value(json_text) -%}
    get(parse_json({{ json_text }}), object_keys(parse_json({{ json_text }}))[0]::varchar)::varchar
{%- endmacro %}

{% macro bigquery__json_text_first_key(json_text) -%}
    json_keys(parse_json({{ json_text }}), 1)[safe_offset(0)]
{%- endmacro %}

{% macro bigquery__json_text_first_value(json_text) -%}
    json_value(parse_json({{ json_text }}), concat('$."', json_keys(parse_json({{ json_text }}), 1)[safe_offset(0)], '"'))
{%- endmacro %}
