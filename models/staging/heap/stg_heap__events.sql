{#
    One row per row of every Heap event table, unioned. Heap's tables differ in columns, so each table's own
    columns are packed into `properties` (renamed per the heap_event_property_map seed, kept under their own
    names otherwise) and only the columns every later step needs are lifted out.
#}
{% if var('heap_s3_path') %}
-- depends_on: {{ ref('base_heap__s3_dumps') }}
{% elif var('heap_files_path') %}
-- depends_on: {{ ref('base_heap__export_files') }}
{% endif %}
-- depends_on: {{ ref('heap_event_property_map') }}
-- depends_on: {{ source('heap', 'pageviews') }}

{%- set property_map = posthog_migrate.heap_event_property_map_rows() %}
{%- set relations = posthog_migrate.heap_event_relations() %}

with

{% for relation in relations %}
{%- set columns = posthog_migrate.columns_by_lower_name(relation) %}
{%- set pairs = posthog_migrate.mapped_property_pairs(
    columns, property_map, 'heap_column', posthog_migrate.heap_default_property_rule
) %}
events_from_{{ relation.identifier | lower }} as (

    select
        ----------  ids
        '{{ relation.identifier | lower }}' as source_table,
        {{ posthog_migrate.column_or_null(columns, 'event_id', dbt.type_string()) }} as event_id,
        {{ posthog_migrate.column_or_null(columns, 'user_id', dbt.type_string()) }} as user_id,
        {{ posthog_migrate.column_or_null(columns, 'session_id', dbt.type_string()) }} as session_id,
        {{ posthog_migrate.source_row_locator() }} as source_row_locator,

        ----------  timestamps
        {{ posthog_migrate.column_or_null(columns, 'time', dbt.type_timestamp()) }} as event_at,

        ----------  url parts, for $current_url
        {% for name in posthog_migrate.heap_url_columns() -%}
        {{ posthog_migrate.column_or_null(columns, name, dbt.type_string()) }} as {{ name }},
        {% endfor %}
        ----------  properties
        {{ posthog_migrate.json_object_text(pairs) }} as properties

    from {{ relation }}

),

{% endfor %}
final as (

    {% for relation in relations -%}
    select * from events_from_{{ relation.identifier | lower }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from final
