{#- The warehouses whose SQL the macros in macros/cross_db implement. -#}
{% macro supported_adapters() %}
    {{ return(['duckdb', 'snowflake', 'bigquery', 'redshift']) }}
{% endmacro %}

{#-
    Every dispatched macro's default__: one message for a warehouse the project was not written for. on-run-start
    raises it once, before anything is built (the default__ copies keep dbt's parse working on any warehouse).
-#}
{% macro unsupported_adapter(macro_name=none) %}
    {{ exceptions.raise_compiler_error(
        "posthog_migrate runs on " ~ posthog_migrate.supported_adapters() | join(', ') ~ "; target '" ~ target.name
        ~ "' is a " ~ target.type ~ " target, which it does not support"
        ~ (" (" ~ macro_name ~ " has no " ~ target.type ~ " implementation)" if macro_name else "") ~ ".") }}
{% endmacro %}

{% macro check_adapter() %}
    {% if target.type not in posthog_migrate.supported_adapters() %}
        {% do posthog_migrate.unsupported_adapter() %}
    {% endif %}
    {{ return('') }}
{% endmacro %}
