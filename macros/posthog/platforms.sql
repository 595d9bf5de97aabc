{#
    Heap's `platform` mixes OS and version: "Mac OS X 10.15.7", "Windows 10", "iOS 17.5.1", "Android 14",
    "Chrome OS 14541.0.0", "Linux". The version is the last space-separated token when it starts with a digit;
    the name is what comes before it.
#}
{% macro platform_os_version(expr) -%}
    nullif({{ posthog_migrate.regex_capture(expr, ' ([0-9][0-9A-Za-z._-]*)$') }}, '')
{%- endmacro %}

{% macro platform_os_name(expr) -%}
    nullif(trim(regexp_replace({{ expr }}, ' [0-9][0-9A-Za-z._-]*$', '')), '')
{%- endmacro %}
