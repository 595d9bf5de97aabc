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
