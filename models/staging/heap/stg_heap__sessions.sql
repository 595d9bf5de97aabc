{{ config(enabled=var('heap_enabled')) }}

{%- set columns = posthog_migrate.columns_by_lower_name(source('heap', 'sessions')) %}

with

source as (

    select * from {{ source('heap', 'sessions') }}

),

renamed as (

    select
        ----------  ids
        {{ posthog_migrate.column_or_null(columns, 'session_id', dbt.type_string()) }} as session_id,
        {{ posthog_migrate.column_or_null(columns, 'user_id', dbt.type_string()) }} as user_id,

        ----------  timestamps
        {{ posthog_migrate.utc_timestamp_column_or_null(columns, 'time') }} as started_at

    from source

)

select * from renamed
