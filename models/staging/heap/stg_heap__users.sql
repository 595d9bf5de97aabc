{#
    One row per row of Heap's users table. Its columns differ per customer (one per custom user property), so
    person properties are packed into `set_properties` and `set_once_properties` per the heap_user_property_map
    seed; a column no row names goes to $set under its own name, or to $set_once as $initial_* when it is an
    initial_* column.
#}
{{ config(enabled=var('heap_enabled')) }}
{% if var('heap_s3_path') %}
-- depends_on: {{ ref('base_heap__s3_dumps') }}
{% elif var('heap_files_path') %}
-- depends_on: {{ ref('base_heap__export_files') }}
{% endif %}
-- depends_on: {{ ref('heap_user_property_map') }}

{%- set columns = posthog_migrate.columns_by_lower_name(source('heap', 'users')) %}
{%- set pairs = posthog_migrate.mapped_property_pairs(
    columns, posthog_migrate.mapping_rows('heap_user_property_map'), 'heap_column',
    posthog_migrate.heap_default_person_rule, null_strings=['Invalid date']
) %}

with

source as (

    select * from {{ source('heap', 'users') }}

),

renamed as (

    select
        ----------  ids
        {{ posthog_migrate.column_or_null(columns, 'user_id', dbt.type_string()) }} as user_id,
        {{ posthog_migrate.column_or_null(columns, 'identity', dbt.type_string()) }} as identity,

        ----------  timestamps
        {{ posthog_migrate.utc_timestamp_column_or_null(columns, 'joindate') }} as joined_at,
        {{ posthog_migrate.utc_timestamp_column_or_null(columns, 'last_modified') }} as last_modified_at,

        ----------  person properties
        {{ posthog_migrate.json_object_text(posthog_migrate.pairs_where(pairs, 'set_mode', 'set')) }}
            as set_properties,
        {{ posthog_migrate.json_object_text(posthog_migrate.pairs_where(pairs, 'set_mode', 'set_once')) }}
            as set_once_properties

    from source

)

select * from renamed
