{#
    Two ways in, one set of columns: the Export API's gzipped JSON lines (read where they lie, on DuckDB), or
    Amplitude's warehouse export table EVENTS_<project_id> (Snowflake, BigQuery, or a table you staged the export
    files into). `amplitude_export_path` chooses the first; otherwise the warehouse vars locate the table.
#}
{% macro amplitude_reads_export_files() %}
    {{ return(var('amplitude_export_path') not in (none, '')) }}
{% endmacro %}

{#- Where the *.json.gz files are: the folder itself, or beside the zip (base_amplitude__export_files unzips). -#}
{% macro amplitude_export_files_folder() %}
    {% set path = var('amplitude_export_path').rstrip('/') %}
    {{ return(path[:-4] ~ '_files' if path.endswith('.zip') else path) }}
{% endmacro %}

{% macro amplitude_table_name(kind) %}
    {% set project_id = var('amplitude_project_id') %}
    {% set override = var('amplitude_' ~ kind ~ '_table') %}
    {% if override %}
        {{ return(override) }}
    {% elif project_id is none %}
        {{ exceptions.raise_compiler_error(
            "Amplitude is enabled but neither amplitude_export_path (an Export API folder or zip) nor "
            ~ "amplitude_project_id (for the warehouse export's EVENTS_<project_id> table) is set."
        ) }}
    {% endif %}
    {{ return(kind | upper ~ '_' ~ project_id) }}
{% endmacro %}


{#- The MERGE_IDS table's name as reconciliation names it (lower case); `merge_ids` when reading export files. -#}
{% macro amplitude_merge_ids_source_table() %}
    {% if posthog_migrate.amplitude_reads_export_files() or not var('amplitude_enabled') %}
        {{ return('merge_ids') }}
    {% endif %}
    {{ return(posthog_migrate.amplitude_table_name('merge_ids') | lower) }}
{% endmacro %}


{#-
    Amplitude's event fields we read, with their type. Both ways in produce exactly these columns (timestamps as
    timestamps, objects as JSON text), so everything downstream is the same.
-#}
{% macro amplitude_event_fields() %}
    {{ return([
        ['uuid', 'text'], ['$insert_id', 'text'], ['event_id', 'bigint'], ['event_type', 'text'],
        ['event_time', 'timestamp'], ['client_event_time', 'timestamp'], ['server_received_time', 'timestamp'],
        ['server_upload_time', 'timestamp'],
        ['user_id', 'text'], ['device_id', 'text'], ['amplitude_id', 'bigint'], ['session_id', 'bigint'],
        ['platform', 'text'], ['os_name', 'text'], ['os_version', 'text'], ['device_type', 'text'],
        ['device_family', 'text'], ['device_brand', 'text'], ['device_manufacturer', 'text'],
        ['device_model', 'text'], ['device_carrier', 'text'],
        ['country', 'text'], ['region', 'text'], ['city', 'text'], ['location_lat', 'double'],
        ['location_lng', 'double'], ['ip_address', 'text'], ['language', 'text'], ['library', 'text'],
        ['version_name', 'text'],
        ['event_properties', 'json'], ['user_properties', 'json'], ['groups', 'json'],
        ['group_properties', 'json'],
    ]) }}
{% endmacro %}

{% macro amplitude_sql_type(kind) %}
    {{ return({
        'text': dbt.type_string(), 'bigint': dbt.type_bigint(), 'double': dbt.type_float(),
        'timestamp': dbt.type_timestamp(), 'json': dbt.type_string(),
    }[kind]) }}
{% endmacro %}

{#- A field of a parsed Export API line: timestamps parsed to UTC (null when they are not), objects as JSON text. -#}
{% macro amplitude_export_field(record, name, kind) -%}
    {%- set value = record ~ '."' ~ name ~ '"' -%}
    {%- if kind == 'timestamp' -%}
        {{ posthog_migrate.utc_timestamp(value, 'varchar') }}
    {%- elif kind == 'json' -%}
        cast({{ value }} as varchar)
    {%- else -%}
        {{ value }}
    {%- endif -%}
{%- endmacro %}

{#- A field of the warehouse export table (any identifier case), typed; null when the table lacks it. -#}
{% macro amplitude_warehouse_field(columns, name, kind) -%}
    {%- if kind == 'json' and name in columns -%}
        {{ posthog_migrate.json_to_text(posthog_migrate.quote_identifier(columns[name].name)) }}
    {%- elif kind == 'timestamp' -%}
        {{ posthog_migrate.utc_timestamp_column_or_null(columns, name) }}
    {%- else -%}
        {{ posthog_migrate.column_or_null(columns, name, posthog_migrate.amplitude_sql_type(kind)) }}
    {%- endif -%}
{%- endmacro %}

{#- The column name a field gets in staging: `$insert_id` is not an identifier. -#}
{% macro amplitude_column_name(field) %}
    {{ return(field | replace('$', '')) }}
{% endmacro %}


{#- The JSON structure the Export API's lines are parsed with (DuckDB's from_json); timestamps parse after. -#}
{% macro amplitude_export_structure() %}
    {% set structure = {} %}
    {% for name, kind in posthog_migrate.amplitude_event_fields() %}
        {% do structure.update({name: {'text': 'VARCHAR', 'bigint': 'BIGINT', 'double': 'DOUBLE',
            'timestamp': 'VARCHAR', 'json': 'JSON'}[kind]}) %}
    {% endfor %}
    {{ return(structure | tojson) }}
{% endmacro %}


{#-
    Every line of every export file that DuckDB can read, as text (the unit separator never occurs unescaped in
    JSON). A line it cannot read (not UTF-8) is left out, never failing the build; with `rejects` (two table
    names), the scan records each such line's file and line number there (base_amplitude__export_lines).
-#}
{% macro amplitude_export_lines(rejects=none) %}
    select filename as source_file, line
    from read_csv(
        {{ posthog_migrate.sql_string(posthog_migrate.amplitude_export_files_folder() ~ '/**/*.json.gz') }},
        columns = {'line': 'varchar'}, header = false, delim = '\x1f', quote = '', escape = '',
        filename = true, compression = 'gzip', max_line_size = 8388608, ignore_errors = true
        {%- if rejects %},
        store_rejects = true, rejects_table = '{{ rejects[0] }}', rejects_scan = '{{ rejects[1] }}'
        {%- endif %}
    )
{% endmacro %}


{#- An export file's path inside the export (`609539/609539_2026-06-30_23#0.json.gz`), whatever folder holds it. -#}
{% macro amplitude_export_file_name(path) -%}
    {%- set folder = posthog_migrate.amplitude_export_files_folder() ~ '/' if posthog_migrate.amplitude_reads_export_files() else '' -%}
    case
        when substr({{ path }}, 1, {{ folder | length }}) = {{ posthog_migrate.sql_string(folder) }}
            then substr({{ path }}, {{ folder | length + 1 }})
        else {{ path }}
    end
{%- endmacro %}

