{#
    Amplitude's warehouse export on Redshift is not supported yet (README: "Run it on Redshift"). Its person
    properties need each key of a SUPER object as a row, which Redshift only offers as PartiQL's UNPIVOT, and the
    PostgreSQL stand-in the tests run Redshift's SQL on cannot run that, so it could not be tested. dbt renders
    disabled models too, so these macros exist for Redshift and stop only a build that enables Amplitude (or the
    generic source, which needs the same) on it.
#}
{% macro amplitude_unsupported_on_redshift() %}
    {% if execute and var('custom_events_relation') is not none %}
        {{ exceptions.raise_compiler_error(
            "The generic source (custom_events_relation) is not supported on Redshift yet: its persons fold the keys "
            ~ "of $set objects, which Redshift offers only as PartiQL's UNPIVOT (README: 'Run it on Redshift'). "
            ~ "Unset custom_events_relation for the Redshift target."
        ) }}
    {% elif execute %}
        {{ exceptions.raise_compiler_error(
            "Amplitude's warehouse export is not supported on Redshift yet: set amplitude_enabled: false for "
            ~ "the Redshift target, and load Amplitude from its Export API files on DuckDB (README: "
            ~ "'Run it on Redshift')."
        ) }}
    {% endif %}
    {{ return('null') }}
{% endmacro %}

{% macro redshift__amplitude_groups_json(groups_text) %}
    {{ return(posthog_migrate.amplitude_unsupported_on_redshift()) }}
{% endmacro %}

{% macro redshift__json_entries(relation, id_columns, json_column) %}
    {{ return(posthog_migrate.amplitude_unsupported_on_redshift()) }}
{% endmacro %}

{% macro redshift__json_object_agg(key, value_text) %}
    {{ return(posthog_migrate.amplitude_unsupported_on_redshift()) }}
{% endmacro %}

{% macro redshift__json_text_first_key(json_text) %}
    {{ return(posthog_migrate.amplitude_unsupported_on_redshift()) }}
{% endmacro %}

{% macro redshift__json_text_first_value(json_text) %}
    {{ return(posthog_migrate.amplitude_unsupported_on_redshift()) }}
{% endmacro %}

{% macro redshift__json_text_member(json_text, key) %}
    {{ return(posthog_migrate.amplitude_unsupported_on_redshift()) }}
{% endmacro %}

{% macro redshift__json_text_without_keys(json_text, keys) %}
    {{ return(posthog_migrate.amplitude_unsupported_on_redshift()) }}
{% endmacro %}

{% macro redshift__json_to_text(expr) %}
    {{ return(posthog_migrate.amplitude_unsupported_on_redshift()) }}
{% endmacro %}

{% macro redshift__json_parse(expr) %}
    {{ return(posthog_migrate.amplitude_unsupported_on_redshift()) }}
{% endmacro %}

{% macro redshift__json_text_get(json_text, key) %}
    {{ return(posthog_migrate.amplitude_unsupported_on_redshift()) }}
{% endmacro %}
