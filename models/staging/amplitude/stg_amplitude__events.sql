{#
    One row per line of the Amplitude export (Export API files) or row of its warehouse export table, with the
    same columns either way: timestamps parsed as UTC, property objects as JSON text, `is_valid_json` false for
    a line that is not JSON (its fields are null; it is quarantined downstream).
#}
{{ config(enabled=var('amplitude_enabled')) }}
{% if posthog_migrate.amplitude_reads_export_files() %}
-- depends_on: {{ ref('base_amplitude__export_files') }}
-- depends_on: {{ ref('base_amplitude__export_lines') }}
{% endif %}

with

source as (

    {% if posthog_migrate.amplitude_reads_export_files() %}
    {{ posthog_migrate.amplitude_export_rows() }}
    union all
    {{ posthog_migrate.amplitude_unreadable_rows(ref('base_amplitude__export_lines')) }}
    {% else %}
    {#- dbt renders disabled models too: check the configuration only when Amplitude is on -#}
    {%- if var('amplitude_enabled') %}{% do posthog_migrate.amplitude_table_name('events') %}{% endif %}
    {{ posthog_migrate.amplitude_warehouse_rows(source('amplitude', 'events')) }}
    {% endif %}

),

renamed as (

    select
        ----------  where it came from
        source_table,
        source_file,
        source_line,
        read_error,
        is_valid_json,

        ----------  ids
        uuid as source_uuid,
        insert_id,
        event_id,
        user_id,
        device_id,
        cast(amplitude_id as {{ dbt.type_string() }}) as amplitude_id,
        session_id,

        ----------  what happened
        event_type,

        ----------  timestamps (UTC; Amplitude's export writes them without a zone)
        event_time as occurred_at,
        client_event_time as client_occurred_at,
        server_received_time as server_received_at,
        server_upload_time as server_uploaded_at,

        ----------  device and place
        platform,
        os_name,
        os_version,
        device_type,
        device_family,
        device_brand,
        device_manufacturer,
        device_model,
        device_carrier,
        country,
        region,
        city,
        location_lat,
        location_lng,
        ip_address,
        language,
        library,
        version_name,

        ----------  property objects (JSON text)
        event_properties,
        user_properties,
        groups,
        group_properties

    from source

)

select * from renamed
