{#
    Rows straight from the Amplitude export (lines of the Export API files, or rows of the events table),
    independent of parsing and mapping, for the reconciliation.
#}
{% if posthog_migrate.amplitude_reads_export_files() %}
-- depends_on: {{ ref('base_amplitude__export_files') }}
{% endif %}

with

final as (

    {% if posthog_migrate.amplitude_reads_export_files() %}
    select
        'export' as source_table,
        count(*) as source_rows
    from ({{ posthog_migrate.amplitude_export_lines() }}) as export_lines
    {% else %}
    select
        '{{ source('amplitude', 'events').identifier | lower }}' as source_table,
        count(*) as source_rows
    from {{ source('amplitude', 'events') }}
    {% endif %}

)

select * from final
