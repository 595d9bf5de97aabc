{% if var('heap_s3_path') %}
-- depends_on: {{ ref('base_heap__s3_dumps') }}
{% elif var('heap_files_path') %}
-- depends_on: {{ ref('base_heap__export_files') }}
{% endif %}

{%- set columns = posthog_migrate.columns_by_lower_name(source('heap', 'user_migrations')) %}

with

source as (

    select * from {{ source('heap', 'user_migrations') }}

),

renamed as (

    select
        ----------  ids
        {{ posthog_migrate.column_or_null(columns, 'from_user_id', dbt.type_string()) }} as from_user_id,
        {{ posthog_migrate.column_or_null(columns, 'to_user_id', dbt.type_string()) }} as to_user_id,

        ----------  timestamps
        {{ posthog_migrate.utc_timestamp_column_or_null(columns, 'time') }} as migrated_at

    from source

)

select * from renamed
