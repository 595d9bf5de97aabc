{#- Deterministic UUIDs, identical on every warehouse (DECISIONLOG: Event uuids are UUIDv8 of an md5). -#}

{#- md5 of a string as 32 lower-case hex digits. -#}
{% macro md5_hex(expr) %}
    {{ return(adapter.dispatch('md5_hex', 'posthog_migrate')(expr)) }}
{% endmacro %}

{% macro default__md5_hex(expr) -%}
    lower(md5(cast({{ expr }} as {{ dbt.type_string() }})))
{%- endmacro %}

{% macro bigquery__md5_hex(expr) -%}
    to_hex(md5(cast({{ expr }} as string)))
{%- endmacro %}


{#- An integer as lower-case hex, left-padded with zeros to `width` digits. -#}
{% macro hex_lpad(expr, width) %}
    {{ return(adapter.dispatch('hex_lpad', 'posthog_migrate')(expr, width)) }}
{% endmacro %}
{% macro default__hex_lpad(expr, width) %}
    {{- posthog_migrate.unsupported_adapter('hex_lpad') -}}
{% endmacro %}

{% macro duckdb__hex_lpad(expr, width) -%}
    lpad(lower(hex(cast({{ expr }} as bigint))), {{ width }}, '0')
{%- endmacro %}

{% macro snowflake__hex_lpad(expr, width) -%}
    {#- one digit per 4 bits, with integer bit operations: exact, and no format model to get wrong -#}
    {%- set digits = [] -%}
    {%- for shift in range((width - 1) * 4, -1, -4) -%}
        {%- do digits.append(
            "substr('0123456789abcdef', cast(bitand(bitshiftright(cast(" ~ expr ~ " as bigint), "
            ~ shift ~ "), 15) as integer) + 1, 1)"
        ) -%}
    {%- endfor -%}
    {{ dbt.concat(digits) }}
{%- endmacro %}

{% macro redshift__hex_lpad(expr, width) -%}
    lpad(to_hex(cast({{ expr }} as bigint)), {{ width }}, '0')
{%- endmacro %}

{% macro bigquery__hex_lpad(expr, width) -%}
    format('%0{{ width }}x', cast({{ expr }} as int64))
{%- endmacro %}


{#- The RFC 9562 variant nibble (10xx) from any hex digit. -#}
{% macro _uuid_variant_nibble(hex_digit) -%}
    translate({{ hex_digit }}, '0123456789abcdef', '89ab89ab89ab89ab')
{%- endmacro %}


{#- UUIDv8: an md5's bits with version and variant set, one variadic concat (DECISIONLOG: Speed-driven SQL shapes) -#}
{% macro uuid_from_md5_hex(hex) -%}
    case when {{ hex }} is not null then {{ dbt.concat([
        'substr(' ~ hex ~ ', 1, 8)', "'-'", 'substr(' ~ hex ~ ', 9, 4)', "'-8'", 'substr(' ~ hex ~ ', 14, 3)', "'-'",
        posthog_migrate._uuid_variant_nibble('substr(' ~ hex ~ ', 17, 1)'), 'substr(' ~ hex ~ ', 18, 3)', "'-'",
        'substr(' ~ hex ~ ', 21, 12)',
    ]) }} end
{%- endmacro %}


{#-
    A uuid in any form PostHog's own importer parses (Rust's Uuid::parse_str: hyphenated, 32 hex digits, braced,
    urn:uuid:), any case, as lower-case hyphenated text; null when it is none of them.
-#}
{% macro uuid_text_if_parsable(expr) -%}
    {%- set hyphenated = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}' -%}
    {%- set text = 'lower(' ~ expr ~ ')' -%}
    case
        when {{ posthog_migrate.regex_matches(text, '^' ~ hyphenated ~ '$') }} then {{ text }}
        when {{ posthog_migrate.regex_matches(text, '^[0-9a-f]{32}$') }} then {{ dbt.concat([
            'substr(' ~ text ~ ', 1, 8)', "'-'", 'substr(' ~ text ~ ', 9, 4)', "'-'", 'substr(' ~ text ~ ', 13, 4)',
            "'-'", 'substr(' ~ text ~ ', 17, 4)', "'-'", 'substr(' ~ text ~ ', 21, 12)',
        ]) }}
        when {{ posthog_migrate.regex_matches(text, '^[{]' ~ hyphenated ~ '[}]$') }} then substr({{ text }}, 2, 36)
        when {{ posthog_migrate.regex_matches(text, '^urn:uuid:' ~ hyphenated ~ '$') }} then substr({{ text }}, 10, 36)
    end
{%- endmacro %}


{#-
    A UUIDv7: the 48-bit millisecond time `epoch_ms_expr`, then the first 80 bits of an md5, version and variant
    bits set (DECISIONLOG: Session ids are UUIDv7 carrying the session start).
-#}
{% macro uuid_v7(epoch_ms_expr, hex) -%}
    {%- set time_hex = posthog_migrate.hex_lpad(epoch_ms_expr, 12) -%}
    case when {{ hex }} is not null and {{ epoch_ms_expr }} is not null then {{ dbt.concat([
        'substr(' ~ time_hex ~ ', 1, 8)', "'-'", 'substr(' ~ time_hex ~ ', 9, 4)', "'-7'",
        'substr(' ~ hex ~ ', 2, 3)', "'-'", posthog_migrate._uuid_variant_nibble('substr(' ~ hex ~ ', 5, 1)'),
        'substr(' ~ hex ~ ', 6, 3)', "'-'", 'substr(' ~ hex ~ ', 9, 12)',
    ]) }} end
{%- endmacro %}


{#-
    A stable integer from a uuid's last 8 hex digits (0 to 2^32 - 1), the same on every warehouse. uuids here are
    md5 or random bits, so `shard_key mod n` splits the rows into n even, disjoint shards.
-#}
{% macro uuid_shard_key(uuid) %}
    {{ return(adapter.dispatch('uuid_shard_key', 'posthog_migrate')(uuid)) }}
{% endmacro %}
{% macro default__uuid_shard_key(uuid) %}
    {{- posthog_migrate.unsupported_adapter('uuid_shard_key') -}}
{% endmacro %}

{% macro duckdb__uuid_shard_key(uuid) -%}
    cast('0x' || substr({{ uuid }}, 29, 8) as bigint)
{%- endmacro %}

{% macro snowflake__uuid_shard_key(uuid) -%}
    to_number(substr({{ uuid }}, 29, 8), 'XXXXXXXX')
{%- endmacro %}

{% macro redshift__uuid_shard_key(uuid) -%}
    strtol(substr({{ uuid }}, 29, 8), 16)
{%- endmacro %}

{% macro bigquery__uuid_shard_key(uuid) -%}
    cast(concat('0x', substr({{ uuid }}, 29, 8)) as int64)
{%- endmacro %}
