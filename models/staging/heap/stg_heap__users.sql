{#
    One row per row of Heap's users table. Its columns differ per customer (one per custom user property), so
    person properties are packed into `set_properties` and `set_once_properties` per the heap_user_property_map
    seed; a column no row names goes to $set under its own name, or to $set_once as $initial_* when it is an
    initial_* column.
#}
{% if var('heap_s3_path') %}
-- depends_on: {{ ref('base_heap__s3_dumps') }}
{% elif var('heap_files_path') %}
-- depends_on: {{ ref('base_heap__export_files') }}
{% endif %}
-- depends_on: {{ ref('heap_user_property_map') }}
-- depends_on: {{ ref('posthog_name_catalog') }}

{%- set columns = posthog_migrate.columns_by_lower_name(source('heap', 'users')) %}
{%- set pairs = posthog_migrate.mapped_property_pairs(
    posthog_migrate.heap_user_column_rules(columns), null_strings=['Invalid date']
) %}
{%- set set_pairs = posthog_migrate.pairs_where(pairs, 'set_mode', 'set') %}
{%- set set_once_pairs = posthog_migrate.pairs_where(pairs, 'set_mode', 'set_once') %}
{#-
    Both objects are measured where the person's payload may come near the limit: their bounds plus 2 KiB for
    the rest (the $set wrapper, a distinct id of at most 200 characters escaped).
-#}
{%- set person_payload_rest_limit = posthog_migrate.posthog_max_event_bytes() - 2048 %}

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
        {{ posthog_migrate.json_object_text(set_pairs) }} as set_properties,
        {{ posthog_migrate.json_object_text(set_once_pairs) }} as set_once_properties,
        {{ posthog_migrate.json_object_bytes_if_large(
            set_pairs, posthog_migrate.json_object_bytes_bound(set_once_pairs), person_payload_rest_limit
        ) }} as set_properties_bytes,
        {{ posthog_migrate.json_object_bytes_if_large(
            set_once_pairs, posthog_migrate.json_object_bytes_bound(set_pairs), person_payload_rest_limit
        ) }} as set_once_properties_bytes,
        {{ posthog_migrate.refused_number_property(pairs) }} as refused_number_property

    from source

)

select * from renamed
