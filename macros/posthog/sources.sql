{#- The sources this build reads, from the <source>_enabled vars. -#}
{% macro enabled_sources() %}
    {% set sources = [] %}
    {% for source_name in ['heap', 'amplitude'] if var(source_name ~ '_enabled') %}
        {% do sources.append(source_name) %}
    {% endfor %}
    {% if var('custom_events_relation') %}
        {% do sources.append('custom') %}
    {% endif %}
    {% if sources | length == 0 %}
        {{ exceptions.raise_compiler_error(
            "No source is enabled: set heap_enabled or amplitude_enabled to true, or custom_events_relation, in "
            ~ "--vars.") }}
    {% endif %}
    {{ return(sources) }}
{% endmacro %}


{#-
    on-run-start: dbt 1.11 renders the folder configs in dbt_project.yml with --vars only, so a switch set in its
    vars: block reaches the models but not the folders. Stop before anything is built half switched.
-#}
{% macro check_folder_switches() %}
    {% if not execute %}
        {{ return('') }}
    {% endif %}
    {% set nodes = graph.nodes %}
    {#- [var, what it asks for, what the folder configs did] -#}
    {% set checks = [
        ['heap_enabled', var('heap_enabled'), 'model.posthog_migrate.int_heap_events__classified' in nodes],
        ['amplitude_enabled', var('amplitude_enabled'),
            'model.posthog_migrate.int_amplitude_events__classified' in nodes],
        ['custom_events_relation', var('custom_events_relation') is not none,
            'model.posthog_migrate.int_custom_events__classified' in nodes],
        ['custom_persons_relation', var('custom_persons_relation') is not none
            and var('custom_events_relation') is not none,
            'model.posthog_migrate.int_custom_person_rows__classified' in nodes],
        ['custom_aliases_relation', var('custom_aliases_relation') is not none
            and var('custom_events_relation') is not none,
            'model.posthog_migrate.int_custom_alias_rows__classified' in nodes],
    ] %}
    {#- posthog_persons takes the var as it is (posthog_events, as a table, is a sliced_table) -#}
    {% set contract = nodes.get('model.posthog_migrate.posthog_persons') %}
    {% if contract %}
        {% do checks.append([
            'posthog_contract_materialization', var('posthog_contract_materialization'), contract.config.materialized,
        ]) %}
    {% endif %}
    {% for name, wanted, folder_value in checks if wanted != folder_value %}
        {{ exceptions.raise_compiler_error(
            name ~ " is " ~ var(name) | tojson ~ " in the vars: block of dbt_project.yml, but the folder configs under"
            ~ " models: (which dbt 1.11 renders with --vars only) did not follow it. Pass it on the command line"
            ~ " instead, --vars '{" ~ name ~ ": " ~ var(name) | tojson ~ "}', and leave vars: at its default.") }}
    {% endfor %}
    {{ return('') }}
{% endmacro %}
