{#- A column of a relation if it exists (any case), else a typed null: Heap's tables differ in columns. -#}
{% macro column_or_null(columns_by_name, name, sql_type) -%}
    {%- if name in columns_by_name -%}
        cast({{ posthog_migrate.quote_identifier(columns_by_name[name].name) }} as {{ sql_type }})
    {%- else -%}
        cast(null as {{ sql_type }})
    {%- endif -%}
{%- endmacro %}

{#-
    A relation's columns by lower-case name, so vars, mappings and lookups ignore identifier case. Where names
    differ only in case (Snowflake keeps `"Plan"` and `PLAN` apart), the all-lower-case spelling, else the first in
    code point order, takes the lower-case name and the others keep their own: no column is lost.
-#}
{% macro columns_by_lower_name(relation) %}
    {% set columns = adapter.get_columns_in_relation(relation) %}
    {% set spellings = {} %}
    {% for column in columns %}
        {% do spellings.setdefault(column.name | lower, []).append(column.name) %}
    {% endfor %}
    {% set by_name = {} %}
    {% for column in columns %}
        {% set lower_name = column.name | lower %}
        {% set same = spellings[lower_name] %}
        {% set owner = lower_name if lower_name in same else same | sort(case_sensitive=true) | first %}
        {% do by_name.update({lower_name if column.name == owner else column.name: column}) %}
    {% endfor %}
    {{ return(by_name) }}
{% endmacro %}

