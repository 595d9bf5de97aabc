{#- The first capture group of `pattern` (which must have exactly one), or null/'' when it does not match. -#}
{% macro regex_capture(expr, pattern) %}
    {{ return(adapter.dispatch('regex_capture', 'posthog_migrate')(expr, pattern)) }}
{% endmacro %}
{% macro default__regex_capture(expr, pattern) %}
    {{- posthog_migrate.unsupported_adapter('regex_capture') -}}
{% endmacro %}

{% macro duckdb__regex_capture(expr, pattern) -%}
    regexp_extract({{ expr }}, {{ posthog_migrate.sql_string(pattern) }}, 1)
{%- endmacro %}

{% macro snowflake__regex_capture(expr, pattern) -%}
    regexp_substr({{ expr }}, {{ posthog_migrate.sql_string(pattern) }}, 1, 1, 'e', 1)
{%- endmacro %}

{#- 'e': return the first subexpression (capture group) rather than the whole match -#}
{% macro redshift__regex_capture(expr, pattern) -%}
    regexp_substr({{ expr }}, {{ posthog_migrate.sql_string(pattern) }}, 1, 1, 'e')
{%- endmacro %}

{% macro bigquery__regex_capture(expr, pattern) -%}
    regexp_extract({{ expr }}, {{ posthog_migrate.sql_string(pattern) }})
{%- endmacro %}


{#- Whether `expr` matches the regular expression `pattern` (anywhere; anchor it to match the whole). -#}
{% macro regex_matches(expr, pattern) %}
    {{ return(adapter.dispatch('regex_matches', 'posthog_migrate')(expr, pattern)) }}
{% endmacro %}
{% macro default__regex_matches(expr, pattern) %}
    {{- posthog_migrate.unsupported_adapter('regex_matches') -}}
{% endmacro %}

{% macro duckdb__regex_matches(expr, pattern) -%}
    regexp_matches({{ expr }}, {{ posthog_migrate.sql_string(pattern) }})
{%- endmacro %}

{% macro snowflake__regex_matches(expr, pattern) -%}
    regexp_instr({{ expr }}, {{ posthog_migrate.sql_string(pattern) }}) > 0
{%- endmacro %}

{% macro redshift__regex_matches(expr, pattern) -%}
    regexp_instr({{ expr }}, {{ posthog_migrate.sql_string(pattern) }}) > 0
{%- endmacro %}

{% macro bigquery__regex_matches(expr, pattern) -%}
    regexp_contains({{ expr }}, {{ posthog_migrate.sql_string(pattern) }})
{%- endmacro %}
