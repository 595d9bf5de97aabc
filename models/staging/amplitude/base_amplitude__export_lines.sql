{#
    Every line of the Amplitude export files, counted in one scan, and each line DuckDB cannot read (not UTF-8)
    with its file and line number. A bad byte in one line of one file must not fail the build:
    stg_amplitude__events reads the rest and quarantines these, and the reconciliation counts every line.

    The scan runs in a pre-hook because DuckDB records the lines it rejects in temporary tables of the connection
    that scanned, which the model's own query then reads.
#}
{% set rejects = ['amplitude_unreadable_lines', 'amplitude_unreadable_scans'] %}
{% set reads_export_files = var('amplitude_enabled') and posthog_migrate.amplitude_reads_export_files() %}
{{ config(
    pre_hook=[
        'drop table if exists ' ~ rejects[0],
        'drop table if exists ' ~ rejects[1],
        'create or replace temp table amplitude_readable_lines as select source_file, count(*) as readable_lines'
            ~ ' from (' ~ posthog_migrate.amplitude_export_lines(rejects=rejects) ~ ') as export_lines'
            ~ ' group by source_file',
    ] if reads_export_files else [],
) }}
-- depends_on: {{ ref('base_amplitude__export_files') }}

with

readable as (

    select
        source_file,
        readable_lines
    from amplitude_readable_lines

),

unreadable as (

    select
        scans.file_path as source_file,
        count(*) as unreadable_count,
        list({ 'line_number': errors.line, 'error_type': errors.error_type } order by errors.line) as unreadable_lines
    from {{ rejects[0] }} as errors
    inner join {{ rejects[1] }} as scans
        on errors.scan_id = scans.scan_id and errors.file_id = scans.file_id
    group by scans.file_path

),

final as (

    select
        coalesce(readable.source_file, unreadable.source_file) as source_file,
        coalesce(readable.readable_lines, 0) + coalesce(unreadable.unreadable_count, 0) as line_count,
        coalesce(unreadable.unreadable_lines, []) as unreadable_lines
    from readable
    full outer join unreadable on readable.source_file = unreadable.source_file

)

select * from final
