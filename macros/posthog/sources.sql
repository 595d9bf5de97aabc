{#- The sources this build reads, from the <source>_enabled vars. -#}
{% macro enabled_sources() %}
    {% set sources = [] %}
    {% for source_name in ['heap', 'amplitude'] if var(source_name ~ '_enabled') %}
        {% do sources.append(source_name) %}
    {% endfor %}
    {% if sources | length == 0 %}
        {{ exceptions.raise_compiler_error(
            "No source is enabled: set heap_enabled or amplitude_enabled to true in vars.") }}
    {% endif %}
    {{ return(sources) }}
{% endmacro %}


{#-
    For each source, the models holding one row per source row with its outcome (row_status, status_reason),
    the contract view its emitted rows must reach (none when an emitted row is applied rather than sent one for
    one, as a migration or a merge is), and the row's time column. Amplitude's persons are derived from events:
    their row counts the persons derived, so one PostHog would refuse shows as quarantined.
-#}
{% macro reconciled_models(source_name) %}
    {{ return({
        'heap': [
            ['int_heap_events__classified', 'posthog_events', 'event_at'],
            ['int_heap_persons__mapped', 'posthog_persons', 'person_at'],
            ['int_heap_user_migrations__classified', none, 'migrated_at'],
        ],
        'amplitude': [
            ['int_amplitude_events__classified', 'posthog_events', 'event_at'],
            ['int_amplitude_merge_ids__classified', none, 'merged_at'],
            ['int_amplitude_persons__mapped', 'posthog_persons', 'person_at'],
        ],
    }[source_name]) }}
{% endmacro %}
