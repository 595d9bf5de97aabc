{#-
    The properties int_heap_events__mapped derives for every Heap event and puts in front of the mapped ones, as
    [name, JSON text] pairs over its columns. Source columns never take these names (stg_heap__events renames
    them), so a payload never holds a key twice.
-#}
{% macro heap_event_derived_properties() %}
    {{ return([
        ['$current_url', posthog_migrate.json_quote(
            'coalesce('
            ~ posthog_migrate.url_from_parts('domain', 'path', 'query', 'hash') ~ ', '
            ~ posthog_migrate.url_from_parts('landing_page', 'null', 'landing_page_query', 'landing_page_hash')
            ~ ')'
        )],
        ['$session_id', posthog_migrate.json_quote('posthog_session_id')],
        ['$geoip_disable', "'true'"],
    ]) }}
{% endmacro %}
