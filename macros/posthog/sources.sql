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
    on-run-start: dbt 1.11 renders the folder configs in dbt_project.yml with --vars only, so a switch set in its
    vars: block reaches the models but not the folders. Stop before anything is built half switched.
-#}
{% macro check_folder_switches() %}
    {% if not execute %}
        {{ return('') }}
    {% endif %}
    {% set checks = [
        ['heap_enabled', 'model.posthog_migrate.int_heap_events__classified' in graph.nodes],
        ['amplitude_enabled', 'model.posthog_migrate.int_amplitude_events__classified' in graph.nodes],
    ] %}
    {% set contract = graph.nodes.get('model.posthog_migrate.posthog_events') %}
    {% if contract %}
        {% do checks.append(['posthog_contract_materialization', contract.config.materialized]) %}
    {% endif %}
    {% for name, folder_value in checks if var(name) != folder_value %}
        {{ exceptions.raise_compiler_error(
            name ~ " is " ~ var(name) | tojson ~ " in the vars: block of dbt_project.yml, but the folder configs under"
            ~ " models: (which dbt 1.11 renders with --vars only) still use " ~ folder_value | tojson ~ ". Pass it on"
            ~ " the command line instead, --vars '{" ~ name ~ ": " ~ var(name) | tojson ~ "}', and leave vars: at its"
            ~ " default.") }}
    {% endfor %}
    {{ return('') }}
{% endmacro %}
