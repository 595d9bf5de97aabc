{#
    Amplitude ids merged into another (MERGE_IDS_<project_id> of the warehouse export). The Export API carries no
    merges, so with `amplitude_export_path` this model is empty.
#}

with

{% if posthog_migrate.amplitude_reads_export_files() %}
source as (

    select
        cast(null as {{ dbt.type_bigint() }}) as amplitude_id,
        cast(null as {{ dbt.type_bigint() }}) as merged_amplitude_id,
        cast(null as {{ dbt.type_timestamp() }}) as merge_server_time
    where false

),
{% else %}
{%- set columns = posthog_migrate.columns_by_lower_name(source('amplitude', 'merge_ids')) %}
source as (

    select
        amplitude_id,
        merged_amplitude_id,
        {{ posthog_migrate.utc_timestamp_column_or_null(columns, 'merge_server_time') }} as merge_server_time
    from {{ source('amplitude', 'merge_ids') }}

),
{% endif %}

renamed as (

    select
        ----------  ids: integers as text, as the events carry them (a decimal's text may keep its scale, "12.0")
        cast(cast(amplitude_id as {{ dbt.type_bigint() }}) as {{ dbt.type_string() }}) as amplitude_id,
        cast(cast(merged_amplitude_id as {{ dbt.type_bigint() }}) as {{ dbt.type_string() }}) as merged_amplitude_id,

        ----------  timestamps
        merge_server_time as merged_at

    from source

)

select * from renamed
