{#- One row per row of custom_persons_relation: a person update, its time in UTC and its objects as JSON text. -#}
{%- set relation = source('custom_persons', 'persons') %}
{%- set columns = posthog_migrate.custom_columns(relation, 'custom_persons_relation', ['distinct_id', 'timestamp']) %}

with

source as (

    select * from {{ relation }}

),

renamed as (

    select
        ----------  ids
        '{{ relation.identifier | lower }}' as source_table,
        {{ posthog_migrate.column_or_null(columns, var('custom_row_id_column') | lower, dbt.type_string()) }}
            as source_row_id,
        {{ posthog_migrate.column_or_null(columns, 'distinct_id', dbt.type_string()) }} as distinct_id,

        ----------  timestamps
        {{ posthog_migrate.column_or_null(columns, 'timestamp', dbt.type_string()) }} as timestamp_text,
        {{ posthog_migrate.custom_utc_time(columns, 'timestamp') }} as updated_at,

        ----------  property objects (JSON text): $set, else properties
        coalesce(
            {{ posthog_migrate.custom_json_text(columns, '$set') }},
            {{ posthog_migrate.custom_json_text(columns, 'properties') }}
        ) as set_properties,
        {{ posthog_migrate.custom_json_text(columns, '$set_once') }} as set_once_properties

    from source

)

select * from renamed
