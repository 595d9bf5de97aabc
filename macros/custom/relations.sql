{#- The relation a custom_*_relation var names: `schema.table` or `database.schema.table`. -#}
{% macro custom_relation_check(var_name) %}
    {% set value = var(var_name) %}
    {% if value is not none and (value.split('.') | length) not in (2, 3) %}
        {{ exceptions.raise_compiler_error(
            var_name ~ " is '" ~ value ~ "': name a table or view as schema.table or database.schema.table.") }}
    {% endif %}
{% endmacro %}


{#- A custom relation's columns by lower-case name, stopping the build when a required one is missing. -#}
{% macro custom_columns(relation, var_name, required) %}
    {% do posthog_migrate.custom_relation_check(var_name) %}
    {% set columns = posthog_migrate.columns_by_lower_name(relation) %}
    {% if execute %}
        {% if columns | length == 0 %}
            {{ exceptions.raise_compiler_error(
                var_name ~ " names " ~ relation ~ ", which does not exist or has no columns this role can read.") }}
        {% endif %}
        {% set missing = required | reject('in', columns) | list %}
        {% if missing %}
            {{ exceptions.raise_compiler_error(
                var_name ~ " names " ~ relation ~ ", which has no column " ~ missing | join(', ') ~ " (it needs "
                ~ required | join(', ') ~ "; docs/adding_a_source.md).") }}
        {% endif %}
    {% endif %}
    {{ return(columns) }}
{% endmacro %}


{#- A JSON column (JSON, VARIANT, OBJECT) or text column as JSON text; null when the relation has no such column. -#}
{% macro custom_json_text(columns, name) -%}
    {%- if name not in columns -%}
        cast(null as {{ dbt.type_string() }})
    {%- elif columns[name].is_string() -%}
        cast({{ posthog_migrate.quote_identifier(columns[name].name) }} as {{ dbt.type_string() }})
    {%- else -%}
        {{ posthog_migrate.json_to_text(posthog_migrate.quote_identifier(columns[name].name)) }}
    {%- endif -%}
{%- endmacro %}


{#-
    A custom relation's time column as a UTC timestamp: typed and zoned times and ISO 8601 text per utc_timestamp;
    numbers, and text of digits only, as Unix epoch seconds, milliseconds or microseconds (by their size).
-#}
{% macro custom_utc_time(columns, name) -%}
    {%- if name not in columns -%}
        {{ return('cast(null as ' ~ dbt.type_timestamp() ~ ')') }}
    {%- endif -%}
    {%- set column = columns[name] -%}
    {%- set quoted = posthog_migrate.quote_identifier(column.name) -%}
    {%- if column.is_numeric() or column.is_integer() or column.is_float() -%}
        {{ posthog_migrate.epoch_to_utc_timestamp(quoted) }}
    {%- elif column.is_string() -%}
        case
            when {{ posthog_migrate.regex_matches('trim(' ~ quoted ~ ')', '^-?[0-9]{9,16}([.][0-9]+)?$') }}
                then {{ posthog_migrate.epoch_to_utc_timestamp(
                    'cast(trim(' ~ quoted ~ ') as ' ~ dbt.type_numeric() ~ ')') }}
            else {{ posthog_migrate.utc_timestamp(quoted, column.dtype) }}
        end
    {%- else -%}
        {{ posthog_migrate.utc_timestamp(quoted, column.dtype) }}
    {%- endif -%}
{%- endmacro %}


{#- Unix epoch seconds, milliseconds or microseconds (told apart by size, as in 2001-2286) as a UTC timestamp. -#}
{% macro epoch_to_utc_timestamp(expr) -%}
    {{ posthog_migrate.timestamp_from_epoch_micros(
        'case when abs(' ~ expr ~ ') >= 1e14 then ' ~ expr
        ~ ' when abs(' ~ expr ~ ') >= 1e11 then ' ~ expr ~ ' * 1000'
        ~ ' else ' ~ expr ~ ' * 1000000 end'
    ) }}
{%- endmacro %}
