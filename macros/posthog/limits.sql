{#
    PostHog's Kafka producer refuses a message over 1,000,000 bytes, and capture wraps each event in an envelope
    (escaping its JSON) before producing it. Like posthog-python, keep each event under 900 KiB so it fits.
#}
{% macro max_event_bytes() %}
    {{ return(var('posthog_max_event_bytes', 921600)) }}
{% endmacro %}

{#- The event fields other than properties (uuid, names, ids, timestamp) stay within this many bytes. -#}
{% macro max_properties_bytes() %}
    {{ return(posthog_migrate.max_event_bytes() - 2048) }}
{% endmacro %}


{#- Length of a string in bytes (UTF-8), which is what size limits count. -#}
{% macro text_bytes(expr) %}
    {{ return(adapter.dispatch('text_bytes', 'posthog_migrate')(expr)) }}
{% endmacro %}

{% macro default__text_bytes(expr) %}
    {{ exceptions.raise_compiler_error(
        "posthog_migrate.text_bytes is not implemented for the '" ~ target.type ~ "' adapter.") }}
{% endmacro %}

{% macro duckdb__text_bytes(expr) -%}
    strlen({{ expr }})
{%- endmacro %}

{% macro snowflake__text_bytes(expr) -%}
    octet_length({{ expr }})
{%- endmacro %}

{% macro bigquery__text_bytes(expr) -%}
    byte_length({{ expr }})
{%- endmacro %}
