{% if var('heap_s3_path') %}
-- depends_on: {{ ref('base_heap__s3_dumps') }}
{% elif var('heap_files_path') %}
-- depends_on: {{ ref('base_heap__export_files') }}
{% endif %}

with

source as (

    select * from {{ source('heap', 'user_migrations') }}

),

renamed as (

    select
        ----------  ids
        cast(from_user_id as {{ dbt.type_string() }}) as from_user_id,
        cast(to_user_id as {{ dbt.type_string() }}) as to_user_id,

        ----------  timestamps
        cast(time as {{ dbt.type_timestamp() }}) as migrated_at

    from source

)

select * from renamed
