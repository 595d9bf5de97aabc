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


{#-
    What each column of a Heap event table or of the users table becomes (column_rules): staging builds the
    properties from these decisions and int_mapping__plan lists them, so the plan shows exactly what is sent.
-#}
{% macro heap_event_column_rules(columns_by_name) %}
    {{ return(posthog_migrate.column_rules(
        columns_by_name, posthog_migrate.heap_event_property_map_rows(), 'heap_column',
        posthog_migrate.heap_default_property_rule,
        reserved_names=posthog_migrate.posthog_reserved_names('event_property'),
        derived_names=posthog_migrate.heap_event_derived_properties() | map(attribute=0) | list,
        rename_prefix='heap_',
    )) }}
{% endmacro %}

{% macro heap_user_column_rules(columns_by_name) %}
    {{ return(posthog_migrate.column_rules(
        columns_by_name, posthog_migrate.heap_user_property_map_rows(), 'heap_column',
        posthog_migrate.heap_default_person_rule,
        reserved_names=posthog_migrate.posthog_reserved_names('person_property'), rename_prefix='heap_',
    )) }}
{% endmacro %}


{#-
    The person properties int_heap_persons__mapped fills from the user's touches (int_heap_users__touched) where the
    users table lacks them, per set_mode, in groups taken whole (a group is filled only when the table has none of
    it); int_mapping__plan lists them as `touches.<name>`.
-#}
{% macro heap_touched_person_properties() %}
    {{ return({
        'set': [['geoip_country_name', 'geoip_subdivision_1_name', 'geoip_city_name']],
        'set_once': [
            ['initial_referrer', 'initial_referring_domain'],
            ['initial_current_url', 'initial_pathname'],
            ['initial_utm_source', 'initial_utm_medium', 'initial_utm_campaign', 'initial_utm_term',
             'initial_utm_content'],
            ['initial_browser', 'initial_os', 'initial_os_version', 'initial_device_type'],
            ['initial_geoip_country_name', 'initial_geoip_subdivision_1_name', 'initial_geoip_city_name'],
        ],
    }) }}
{% endmacro %}
