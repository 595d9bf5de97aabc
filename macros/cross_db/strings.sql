{#- `expr` without any of `characters` at either end. -#}
{% macro trim_characters(expr, characters) %}
    {{ return(adapter.dispatch('trim_characters', 'posthog_migrate')(expr, characters)) }}
{% endmacro %}

{% macro default__trim_characters(expr, characters) -%}
    trim({{ expr }}, {{ characters }})
{%- endmacro %}

{#- Redshift's TRIM takes its characters only as TRIM(characters FROM expr); BTRIM takes them as an argument -#}
{% macro redshift__trim_characters(expr, characters) -%}
    btrim({{ expr }}, {{ characters }})
{%- endmacro %}
