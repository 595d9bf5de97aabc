{#
    One row per line of the Amplitude export (Export API files) or row of its warehouse export table, with the
    same columns either way: timestamps parsed as UTC, property objects as JSON text, `is_valid_json` false for
    a line that is not JSON (its fields are null; it is quarantined downstream).
#}
{%- set fields = posthog_migrate.amplitude_event_fields() %}

with

{% if posthog_migrate.amplitude_reads_export_files() %}
-- depends_on: {{ ref('base_amplitude__export_files') }}
-- depends_on: {{ ref('base_amplitude__export_lines') }}
{%- if target.type != 'duckdb' %}
    {{ exceptions.raise_compiler_error(
        "amplitude_export_path is read by DuckDB only. On " ~ target.type ~ ", load the export files into a table "
        ~ "(README: 'Export files on Snowflake or BigQuery') and set amplitude_events_table.") }}
{%- endif %}
export_lines as (

    {{ posthog_migrate.amplitude_export_lines() }}

),

unreadable_lines as (

    -- the lines DuckDB cannot read (not UTF-8), from base_amplitude__export_lines' scan: quarantined downstream
    select
        export_lines.source_file,
        -- each struct's fields as columns: line_number, error_type
        unnest(export_lines.unreadable_lines, recursive := true)  -- noqa: AL03
    from {{ ref('base_amplitude__export_lines') }} as export_lines

),

parsed_lines as (

    -- each line parsed once; a line that is not JSON keeps its fields null
    select
        source_file,
        json_valid(line) as is_valid_json,
        case when json_valid(line) then from_json(line, '{{ posthog_migrate.amplitude_export_structure() }}') end
            as record
    from export_lines

),

source as (

    select
        {% for name, kind in fields -%}
        {{ posthog_migrate.amplitude_export_field('parsed_lines.record', name, kind) }}
            as {{ posthog_migrate.amplitude_column_name(name) }},
        {% endfor -%}
        'export' as source_table,
        parsed_lines.source_file,
        cast(null as bigint) as source_line,
        cast(null as varchar) as read_error,
        parsed_lines.is_valid_json
    from parsed_lines

    union all

    select
        {% for name, kind in fields -%}
        cast(null as {{ posthog_migrate.amplitude_sql_type(kind) }})
            as {{ posthog_migrate.amplitude_column_name(name) }},
        {% endfor -%}
        'export' as source_table,
        unreadable_lines.source_file,
        cast(unreadable_lines.line_number as bigint) as source_line,
        case unreadable_lines.error_type
            when 'INVALID ENCODING' then 'not valid UTF-8'
            else 'DuckDB cannot read the line (' || lower(unreadable_lines.error_type) || ')'
        end as read_error,
        false as is_valid_json
    from unreadable_lines

),

{% else %}
{#- dbt renders disabled models too: check the configuration only when Amplitude is on -#}
{%- if var('amplitude_enabled') %}{% do posthog_migrate.amplitude_table_name('events') %}{% endif %}
{%- set relation = source('amplitude', 'events') %}
{%- set columns = posthog_migrate.columns_by_lower_name(relation) %}
source as (

    -- the warehouse export table, in any identifier case; a field it lacks (like $insert_id) is null
    select
        {% for name, kind in fields -%}
        {{ posthog_migrate.amplitude_warehouse_field(columns, name, kind) }}
            as {{ posthog_migrate.amplitude_column_name(name) }},
        {% endfor -%}
        {{ posthog_migrate.sql_string(relation.identifier | lower) }} as source_table,
        cast(null as {{ dbt.type_string() }}) as source_file,
        cast(null as {{ dbt.type_bigint() }}) as source_line,
        cast(null as {{ dbt.type_string() }}) as read_error,
        true as is_valid_json
    from {{ relation }}

),

{% endif %}
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
