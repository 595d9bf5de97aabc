{#
    JSON building that behaves the same on every warehouse: keys whose value is null are left out, numbers stay
    numbers, booleans stay booleans, and the result is JSON text (so the loader can splice it into a request body).
    `pairs` is a list of [key, sql_expression, ...]; keys are literals, values are SQL, further items ignored.
#}

{% macro json_object_text(pairs) %}
    {{ return(adapter.dispatch('json_object_text', 'posthog_migrate')(pairs)) }}
{% endmacro %}
{% macro default__json_object_text(pairs) %}
    {{- posthog_migrate.unsupported_adapter('json_object_text') -}}
{% endmacro %}

{% macro duckdb__json_object_text(pairs) -%}
    {#- concat() skips nulls: a null value drops its whole member (DECISIONLOG: Speed-driven SQL shapes) -#}
    {%- if pairs | length == 0 -%}
        '{}'
    {%- else -%}
        concat('{', substr(concat(
            {%- for pair in pairs %}
            {{ posthog_migrate.sql_string(',' ~ posthog_migrate.json_string(pair[0]) ~ ':') }} || cast(to_json({{ pair[1] }}) as varchar)
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

{#-
    Members joined as text, as on DuckDB; SUPER writes each value's JSON (a null value drops its member). Redshift
    fails a query that builds text past its 65,535-byte VARCHAR, so an object that would not fit is not built:
    null, and the row's measured size (json_object_text_bytes) quarantines it.
-#}
{% macro redshift__json_object_text(pairs) -%}
    {%- if pairs | length == 0 -%}
        '{}'
    {%- else -%}
        case when {{ posthog_migrate.redshift__json_object_text_bytes(pairs) }} <= {{ posthog_migrate.posthog_max_event_bytes() }}
        then '{' || substr(
            {%- for pair in pairs %}
            coalesce({{ posthog_migrate.sql_string(',' ~ posthog_migrate.json_string(pair[0]) ~ ':') }} || {{ posthog_migrate.redshift__json_value_text(pair[1]) }}, '')
            {{- " ||" if not loop.last }}
            {%- endfor %}
        , 2) || '}' end
    {%- endif -%}
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


{#- The UTF-8 bytes json_object_text(pairs) gives, where a warehouse can build it: by building it. -#}
{% macro json_object_text_bytes(pairs) %}
    {{ return(adapter.dispatch('json_object_text_bytes', 'posthog_migrate')(pairs)) }}
{% endmacro %}

{% macro default__json_object_text_bytes(pairs) -%}
    {{ posthog_migrate.byte_length(posthog_migrate.json_object_text(pairs)) }}
{%- endmacro %}

{#- Redshift: measured without building (which could fail), each member by JSON_SIZE, the text SUPER would write -#}
{% macro redshift__json_object_text_bytes(pairs) -%}
    {%- if pairs | length == 0 -%}
        2
    {%- else -%}
        {#- '{' and '}' around the members, less the first member's comma -#}
        greatest(1
            {%- for pair in pairs %}
            + coalesce(octet_length({{ posthog_migrate.sql_string(',' ~ posthog_migrate.json_string(pair[0]) ~ ':') }}) + json_size(cast({{ pair[1] }} as super)), 0)
            {%- endfor %}
        , 2)
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
            'coalesce(' ~ posthog_migrate.sql_string(posthog_migrate.json_string(pair[0]) ~ ':') ~ ' || ' ~ pair[1] ~ " || ',', '')"
        ) -%}
    {%- endfor -%}
    {#- in groups of eight: the same text (DECISIONLOG: Concatenations are grouped in eights) -#}
    {%- set groups = [] -%}
    {%- for group in members | batch(8) -%}
        {%- do groups.append('(' ~ dbt.concat(group) ~ ')') -%}
    {%- endfor -%}
    {%- set all_members = dbt.concat(groups) if groups else "''" -%}
    {#- each member ends in a comma: the object's own members follow it, or rtrim drops it -#}
    case
        when {{ json_text }} = '{}' then {{ dbt.concat(["'{'", 'rtrim(' ~ all_members ~ ", ',')", "'}'"]) }}
        else {{ dbt.concat(["'{'", all_members, 'substr(' ~ json_text ~ ', 2)']) }}
    end
{%- endmacro %}


{#- The UTF-8 bytes of json_text_prepend(json_text, pairs), from the bytes of json_text. -#}
{% macro json_text_prepend_bytes(json_bytes, pairs) -%}
    {%- set members = [] -%}
    {%- for pair in pairs -%}
        {%- do members.append('coalesce(' ~ posthog_migrate.byte_length(posthog_migrate.sql_string(
            posthog_migrate.json_string(pair[0]) ~ ':')) ~ ' + ' ~ posthog_migrate.byte_length(pair[1]) ~ ' + 1, 0)') -%}
    {%- endfor -%}
    {%- set all_members = members | join(' + ') if members else '0' -%}
    case when {{ json_bytes }} = 2 then greatest({{ all_members }} + 1, 2) else {{ json_bytes }} + {{ all_members }} end
{%- endmacro %}


{#- A SQL string as a JSON string literal (quoted and escaped), for building payloads by concatenation. -#}
{% macro json_quote(expr) %}
    {{ return(adapter.dispatch('json_quote', 'posthog_migrate')(expr)) }}
{% endmacro %}
{% macro default__json_quote(expr) %}
    {{- posthog_migrate.unsupported_adapter('json_quote') -}}
{% endmacro %}

{% macro duckdb__json_quote(expr) -%}
    cast(to_json(cast({{ expr }} as varchar)) as varchar)
{%- endmacro %}

{% macro snowflake__json_quote(expr) -%}
    to_json(to_variant(cast({{ expr }} as varchar)))
{%- endmacro %}

{% macro redshift__json_quote(expr) -%}
    {{ posthog_migrate.redshift__json_value_text('cast(' ~ expr ~ ' as ' ~ dbt.type_string() ~ ')') }}
{%- endmacro %}

{% macro bigquery__json_quote(expr) -%}
    to_json_string(cast({{ expr }} as string))
{%- endmacro %}


{#- Read one top-level key of a JSON object held as text, as text (null when absent); any key, quotes and all. -#}
{% macro json_text_get(json_text, key) %}
    {{ return(adapter.dispatch('json_text_get', 'posthog_migrate')(json_text, key)) }}
{% endmacro %}

{% macro default__json_text_get(json_text, key) %}
    {{- posthog_migrate.unsupported_adapter('json_text_get') -}}
{% endmacro %}

{% macro duckdb__json_text_get(json_text, key) -%}
    json_extract_string({{ json_text }}, {{ posthog_migrate.sql_string('$.' ~ posthog_migrate.json_string(key)) }})
{%- endmacro %}

{% macro snowflake__json_text_get(json_text, key) -%}
    get(parse_json({{ json_text }}), {{ posthog_migrate.sql_string(key) }})::varchar
{%- endmacro %}

{% macro bigquery__json_text_get(json_text, key) -%}
    json_value(parse_json({{ json_text }})[{{ posthog_migrate.sql_string(key) }}])
{%- endmacro %}


{#-
    A Jinja string (a property name) as JSON string text, escaped as DuckDB's to_json escapes values: quotes,
    backslashes and control characters, nothing else. Jinja's tojson also escapes < > & ' for HTML, which would
    give other bytes than the warehouses write.
-#}
{% macro json_string(value) %}
    {%- set ns = namespace(text=value | replace('\\', '\\\\') | replace('"', '\\"') | replace('\n', '\\n')
        | replace('\r', '\\r') | replace('\t', '\\t') | replace('\b', '\\b') | replace('\f', '\\f')) -%}
    {%- set controls = '\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f'
        ~ '\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f' -%}
    {%- for control in controls -%}
        {%- set ns.text = ns.text | replace(control, '\\u%04X' | format(loop.index0)) -%}
    {%- endfor -%}
    {{ return('"' ~ ns.text ~ '"') }}
{% endmacro %}


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

{#- Redshift reads backslashes in string literals as escapes, as PostgreSQL 8.0 did -#}
{% macro redshift__sql_string(value) -%}
    '{{ value | replace("\\", "\\\\") | replace("'", "''") }}'
{%- endmacro %}

{% macro bigquery__sql_string(value) -%}
    {{ posthog_migrate.snowflake__sql_string(value) }}
{%- endmacro %}


{#-
    Whether JSON text (as a warehouse writes it: keys unescaped where they can be) may hold one of `keys` as an
    object key, anywhere in it. Cheap, and never wrong when it says no; a string value spelled like a key also
    says yes. Lets a query do the expensive work only on the rows that need it.
-#}
{% macro json_text_may_have_key(json_text, keys) -%}
    {%- set alternatives = [] -%}
    {%- for key in keys -%}
        {%- do alternatives.append(modules.re.sub('([\\\\.^$|?*+()\\[\\]{}])', '\\\\\\1', posthog_migrate.json_string(key)[1:-1])) -%}
    {%- endfor -%}
    {{ posthog_migrate.regex_matches(json_text, '"(' ~ alternatives | join('|') ~ ')" *:') }}
{%- endmacro %}


{#- Whether a text column holds a JSON object. -#}
{% macro is_json_object(expr) %}
    {{ return(adapter.dispatch('is_json_object', 'posthog_migrate')(expr)) }}
{% endmacro %}
{% macro default__is_json_object(expr) %}
    {{- posthog_migrate.unsupported_adapter('is_json_object') -}}
{% endmacro %}

{% macro duckdb__is_json_object(expr) -%}
    {#- a case, not `and`: DuckDB evaluates both sides of an `and`, and json_type fails on text that is not JSON -#}
    case when json_valid({{ expr }}) then json_type({{ expr }}) = 'OBJECT' else false end
{%- endmacro %}

{% macro snowflake__is_json_object(expr) -%}
    coalesce(is_object(try_parse_json({{ expr }})), false)
{%- endmacro %}

{#- json_parse fails on text that is not JSON, so it runs only on what is_valid_json accepted -#}
{% macro redshift__is_json_object(expr) -%}
    case when is_valid_json({{ expr }}) then json_typeof(json_parse({{ expr }})) = 'object' else false end
{%- endmacro %}

{% macro bigquery__is_json_object(expr) -%}
    coalesce(json_type(safe.parse_json({{ expr }})) = 'object', false)
{%- endmacro %}


{#- A warehouse JSON value (DuckDB JSON, Snowflake VARIANT, BigQuery JSON) as JSON text. -#}
{% macro json_to_text(expr) %}
    {{ return(adapter.dispatch('json_to_text', 'posthog_migrate')(expr)) }}
{% endmacro %}
{% macro default__json_to_text(expr) %}
    {{- posthog_migrate.unsupported_adapter('json_to_text') -}}
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
    {{- posthog_migrate.unsupported_adapter('json_parse') -}}
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
    A JSON object held as text with keys renamed and keys set. The keys named here come first, in code point order;
    the object's other keys follow as the warehouse writes them (DECISIONLOG: Key order in JSON objects). The object
    is parsed once per named key and written once: no nesting, whatever the number of keys.
    `renames` is a list of [old, new] or [old, new, keep_old]: new takes old's value and old is left out unless
    keep_old is true (an absent old leaves new as it is; an empty new drops old). `pairs` is a list of
    [key, sql_expression, ...] set after the renames: a null value leaves the key as it was; a later pair for the
    same key wins over an earlier one. A JSON null counts as absent.
-#}
{% macro json_text_rename_and_set(json_text, renames, pairs) -%}
    {%- set named = {} -%}
    {%- for rename in renames if rename[1] -%}
        {%- do named.update({rename[1]: 'coalesce(' ~ posthog_migrate.json_text_member(json_text, rename[0]) ~ ', '
            ~ posthog_migrate.json_text_member(json_text, rename[1]) ~ ')'}) -%}
    {%- endfor -%}
    {%- for pair in pairs -%}
        {%- do named.update({pair[0]: 'coalesce(' ~ posthog_migrate.json_value_text(pair[1]) ~ ', '
            ~ (named[pair[0]] if pair[0] in named else posthog_migrate.json_text_member(json_text, pair[0])) ~ ')'}) -%}
    {%- endfor -%}
    {{ posthog_migrate.json_text_prepend(
        posthog_migrate.json_text_without_keys(json_text, posthog_migrate._renamed_away(renames) + (named | list)),
        named | dictsort(case_sensitive=true)
    ) }}
{%- endmacro %}


{#- The old keys of `renames` that are left out (those not kept beside their new name). -#}
{% macro _renamed_away(renames) %}
    {% set removed = [] %}
    {% for rename in renames if not (rename | length > 2 and rename[2] in (true, 'true', 'True')) %}
        {% do removed.append(rename[0]) %}
    {% endfor %}
    {{ return(removed) }}
{% endmacro %}


{#- A SQL value (a scalar, or the warehouse's JSON value) as JSON text; null for SQL NULL and for JSON null. -#}
{% macro json_value_text(expr) %}
    {{ return(adapter.dispatch('json_value_text', 'posthog_migrate')(expr)) }}
{% endmacro %}
{% macro default__json_value_text(expr) %}
    {{- posthog_migrate.unsupported_adapter('json_value_text') -}}
{% endmacro %}

{% macro duckdb__json_value_text(expr) -%}
    nullif(cast(to_json({{ expr }}) as varchar), 'null')
{%- endmacro %}

{% macro snowflake__json_value_text(expr) -%}
    nullif(to_json(to_variant({{ expr }})), 'null')
{%- endmacro %}

{% macro redshift__json_value_text(expr) -%}
    {#- json_serialize writes SQL NULL as the text 'null'; a string 'null' is written quoted -#}
    nullif(json_serialize(cast({{ expr }} as super)), 'null')
{%- endmacro %}

{% macro bigquery__json_value_text(expr) -%}
    {#- to_json_string(null) is the text 'null' -#}
    nullif(to_json_string({{ expr }}), 'null')
{%- endmacro %}


{#- One top-level member of a JSON object held as text, as JSON text; null when absent or JSON null. -#}
{% macro json_text_member(json_text, key) %}
    {{ return(adapter.dispatch('json_text_member', 'posthog_migrate')(json_text, key)) }}
{% endmacro %}
{% macro default__json_text_member(json_text, key) %}
    {{- posthog_migrate.unsupported_adapter('json_text_member') -}}
{% endmacro %}

{% macro duckdb__json_text_member(json_text, key) -%}
    nullif(cast(json_extract({{ json_text }}, {{ posthog_migrate.sql_string('$.' ~ posthog_migrate.json_string(key)) }}) as varchar), 'null')
{%- endmacro %}

{% macro snowflake__json_text_member(json_text, key) -%}
    nullif(to_json(get(parse_json({{ json_text }}), {{ posthog_migrate.sql_string(key) }})), 'null')
{%- endmacro %}

{% macro bigquery__json_text_member(json_text, key) -%}
    nullif(to_json_string(parse_json({{ json_text }})[{{ posthog_migrate.sql_string(key) }}]), 'null')
{%- endmacro %}


{#- A JSON object held as text without some top-level keys (absent ones are fine), as text. -#}
{% macro json_text_without_keys(json_text, keys) %}
    {{ return(adapter.dispatch('json_text_without_keys', 'posthog_migrate')(json_text, keys)) }}
{% endmacro %}
{% macro default__json_text_without_keys(json_text, keys) %}
    {{- posthog_migrate.unsupported_adapter('json_text_without_keys') -}}
{% endmacro %}

{% macro duckdb__json_text_without_keys(json_text, keys) -%}
    {#- a merge patch removes the keys it sets to null -#}
    {%- set members = [] -%}
    {%- for key in keys -%}
        {%- do members.append(posthog_migrate.json_string(key) ~ ':null') -%}
    {%- endfor -%}
    cast(json_merge_patch({{ json_text }}, {{ posthog_migrate.sql_string('{' ~ members | join(',') ~ '}') }}) as varchar)
{%- endmacro %}

{% macro snowflake__json_text_without_keys(json_text, keys) -%}
    to_json(object_delete(parse_json({{ json_text }})
        {%- for key in keys %}, {{ posthog_migrate.sql_string(key) }}{% endfor %}))
{%- endmacro %}

{% macro bigquery__json_text_without_keys(json_text, keys) -%}
    {#- the kept members, re-assembled: JSON_REMOVE's paths would need every key escaped for JSONPath -#}
    (select {{ posthog_migrate.bigquery__json_object_agg(
        'member_key', 'to_json_string(parse_json(' ~ json_text ~ ')[member_key])') }}
     from unnest(json_keys(parse_json({{ json_text }}), 1)) as member_key
     {%- if keys %}
     where member_key not in ({% for key in keys %}{{ posthog_migrate.sql_string(key) }}{{ ', ' if not loop.last }}{% endfor %})
     {%- endif %})
{%- endmacro %}


{#-
    One row per top-level key of a JSON object held as text, as `entry_key` and `entry_value` (JSON text), with
    `id_columns` of the row carried along. A select statement over `relation`.
-#}
{% macro json_entries(relation, id_columns, json_column) %}
    {{ return(adapter.dispatch('json_entries', 'posthog_migrate')(relation, id_columns, json_column)) }}
{% endmacro %}
{% macro default__json_entries(relation, id_columns, json_column) %}
    {{- posthog_migrate.unsupported_adapter('json_entries') -}}
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
        {#- the subscript takes any key; a JSONPath built from it would break on quotes -#}
        to_json_string(parse_json(objects.{{ json_column }})[entry_key]) as entry_value
    from {{ relation }} as objects, unnest(json_keys(parse_json(objects.{{ json_column }}), 1)) as entry_key
{% endmacro %}


{#- Aggregate: a JSON object (text) from key and JSON-text value columns, keys in order; '{}' when no rows. -#}
{% macro json_object_agg(key, value_text) %}
    {{ return(adapter.dispatch('json_object_agg', 'posthog_migrate')(key, value_text)) }}
{% endmacro %}
{% macro default__json_object_agg(key, value_text) %}
    {{- posthog_migrate.unsupported_adapter('json_object_agg') -}}
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
    {#- written as text: the object's keys are sorted and escaped like to_json_string's, without JSON_OBJECT's arrays -#}
    coalesce(concat('{', string_agg(concat(to_json_string({{ key }}), ':', {{ value_text }}), ',' order by {{ key }}), '}'), '{}')
{%- endmacro %}


{#-
    The first key of a JSON object held as text in code point order (Snowflake and BigQuery keep keys in that
    order, DuckDB in the order written), and its value as text (strings unquoted): null when empty.
-#}
{% macro json_text_first_key(json_text) %}
    {{ return(adapter.dispatch('json_text_first_key', 'posthog_migrate')(json_text)) }}
{% endmacro %}
{% macro default__json_text_first_key(json_text) %}
    {{- posthog_migrate.unsupported_adapter('json_text_first_key') -}}
{% endmacro %}

{% macro json_text_first_value(json_text) %}
    {{ return(adapter.dispatch('json_text_first_value', 'posthog_migrate')(json_text)) }}
{% endmacro %}
{% macro default__json_text_first_value(json_text) %}
    {{- posthog_migrate.unsupported_adapter('json_text_first_value') -}}
{% endmacro %}

{% macro duckdb__json_text_first_key(json_text) -%}
    list_sort(json_keys({{ json_text }}))[1]
{%- endmacro %}

{% macro duckdb__json_text_first_value(json_text) -%}
    json_extract_string({{ json_text }}, '$.' || to_json(list_sort(json_keys({{ json_text }}))[1]))
{%- endmacro %}

{% macro snowflake__json_text_first_key(json_text) -%}
    array_sort(object_keys(parse_json({{ json_text }})))[0]::varchar
{%- endmacro %}

{% macro snowflake__json_text_first_value(json_text) -%}
    get(parse_json({{ json_text }}), {{ posthog_migrate.snowflake__json_text_first_key(json_text) }})::varchar
{%- endmacro %}

{% macro bigquery__json_text_first_key(json_text) -%}
    (select min(entry_key) from unnest(json_keys(parse_json({{ json_text }}), 1)) as entry_key)
{%- endmacro %}

{% macro bigquery__json_text_first_value(json_text) -%}
    json_value(parse_json({{ json_text }})[{{ posthog_migrate.bigquery__json_text_first_key(json_text) }}])
{%- endmacro %}
