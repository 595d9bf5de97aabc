{#-
    The mapping seeds models read when they compile, one accessor each: a model calls them directly, so a dbt unit
    test stubs a seed with `overrides: macros: {posthog_migrate.<seed>_rows: [...]}`.
-#}
{% macro heap_event_property_map_rows() %}
    {{ return(posthog_migrate.mapping_rows('heap_event_property_map')) }}
{% endmacro %}

{% macro heap_user_property_map_rows() %}
    {{ return(posthog_migrate.mapping_rows('heap_user_property_map')) }}
{% endmacro %}

{% macro amplitude_field_map_rows() %}
    {{ return(posthog_migrate.mapping_rows('amplitude_field_map')) }}
{% endmacro %}

{% macro amplitude_event_property_map_rows() %}
    {{ return(posthog_migrate.mapping_rows('amplitude_event_property_map')) }}
{% endmacro %}

{#- not a mapping, but read the same way: the names PostHog owns (posthog_reserved_names) -#}
{% macro posthog_name_catalog_rows() %}
    {{ return(posthog_migrate.mapping_rows('posthog_name_catalog')) }}
{% endmacro %}
