{#- One row per row of custom_aliases_relation: `alias` is merged into the person of `distinct_id`. -#}
{%- set relation = source('custom_aliases', 'aliases') %}
{%- set columns = posthog_migrate.custom_columns(
    relation, 'custom_aliases_relation', ['distinct_id', 'alias', 'timestamp']
) %}

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
        {{ posthog_migrate.column_or_null(columns, 'alias', dbt.type_string()) }} as alias,

        ----------  timestamps
        {{ posthog_migrate.column_or_null(columns, 'timestamp', dbt.type_string()) }} as timestamp_text,
        {{ posthog_migrate.custom_utc_time(columns, 'timestamp') }} as linked_at

    from source

)

select * from renamed
