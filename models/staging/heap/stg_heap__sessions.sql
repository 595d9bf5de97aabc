{% if var('heap_s3_path') %}
-- depends_on: {{ ref('base_heap__s3_dumps') }}
{% elif var('heap_files_path') %}
-- depends_on: {{ ref('base_heap__export_files') }}
{% endif %}

with

source as (

    select * from {{ source('heap', 'sessions') }}

),

renamed as (

    select
        ----------  ids
        cast(session_id as {{ dbt.type_string() }}) as session_id,
        cast(user_id as {{ dbt.type_string() }}) as user_id,

        ----------  timestamps
        cast(time as {{ dbt.type_timestamp() }}) as started_at

    from source

)

select * from renamed
