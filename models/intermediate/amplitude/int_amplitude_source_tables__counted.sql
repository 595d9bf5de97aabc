{#
    Rows straight from the Amplitude export (lines of the Export API files, or rows of the events and MERGE_IDS
    tables), independent of parsing and mapping, for the reconciliation.
#}
{{ config(enabled=var('amplitude_enabled')) }}
{% if posthog_migrate.amplitude_reads_export_files() %}
-- depends_on: {{ ref('base_amplitude__export_files') }}
{% endif %}

with

final as (

    {% if posthog_migrate.amplitude_reads_export_files() %}
    select
        'export' as source_table,
        'events' as table_role,
        'each line becomes an event (posthog_events), as amplitude_event_map says' as role_note,
        count(*) as source_rows
    from ({{ posthog_migrate.amplitude_export_lines() }}) as export_lines
    {% else %}
    select
        '{{ source('amplitude', 'events').identifier | lower }}' as source_table,
        'events' as table_role,
        'each row becomes an event (posthog_events), as amplitude_event_map says' as role_note,
        count(*) as source_rows
    from {{ source('amplitude', 'events') }}
    union all
    select
        '{{ source('amplitude', 'merge_ids').identifier | lower }}' as source_table,
        'identity' as table_role,
        'each row merges an amplitude id into another (posthog_aliases)' as role_note,
        count(*) as source_rows
    from {{ source('amplitude', 'merge_ids') }}
    {% endif %}

)

select * from final
