{#- A column of a relation if it exists (any case), else a typed null: Heap's tables differ in columns. -#}
{% macro column_or_null(columns_by_name, name, sql_type) -%}
    {%- if name in columns_by_name -%}
        cast({{ adapter.quote(columns_by_name[name].name) }} as {{ sql_type }})
    {%- else -%}
        cast(null as {{ sql_type }})
    {%- endif -%}
{%- endmacro %}

{% macro columns_by_lower_name(relation) %}
    {% set by_name = {} %}
    {% for column in adapter.get_columns_in_relation(relation) %}
        {% do by_name.update({column.name | lower: column}) %}
    {% endfor %}
    {{ return(by_name) }}
{% endmacro %}
