{#
    Rows straight from the Amplitude export (lines of the Export API files, or rows of the events and MERGE_IDS
    tables), independent of parsing and mapping, for the reconciliation; and the persons derived from them.
#}
{% if posthog_migrate.amplitude_reads_export_files() %}
-- depends_on: {{ ref('base_amplitude__export_lines') }}
{% endif %}

with

final as (

    {% if posthog_migrate.amplitude_reads_export_files() %}
    -- every line of every file, readable or not, counted in base_amplitude__export_lines' scan
    select
        'export' as source_table,
        'events' as table_role,
        'each line becomes an event (posthog_events), as amplitude_event_map says' as role_note,
        cast(coalesce(sum(line_count), 0) as {{ dbt.type_bigint() }}) as source_rows
    from {{ ref('base_amplitude__export_lines') }}
    {% else %}
    select
        {{ posthog_migrate.sql_string(source('amplitude', 'events').identifier | lower) }} as source_table,
        'events' as table_role,
        'each row becomes an event (posthog_events), as amplitude_event_map says' as role_note,
        count(*) as source_rows
    from {{ source('amplitude', 'events') }}
    union all
    select
        {{ posthog_migrate.sql_string(source('amplitude', 'merge_ids').identifier | lower) }} as source_table,
        'identity' as table_role,
        'each row merges an amplitude id into another (posthog_aliases)' as role_note,
        count(*) as source_rows
    from {{ source('amplitude', 'merge_ids') }}
    {% endif %}
    union all
    -- Amplitude has no users table: persons are derived from events, so this counts the persons derived
    select
        'user_properties' as source_table,
        'persons' as table_role,
        'derived from events (Amplitude has no users table): each is a person (posthog_persons)' as role_note,
        count(*) as source_rows
    from {{ ref('int_amplitude_persons__mapped') }}

)

select * from final
