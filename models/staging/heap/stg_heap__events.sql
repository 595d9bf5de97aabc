{#
    One row per row of every Heap event table, unioned. Heap's tables differ in columns, so each table's own
    columns are packed into `properties` (renamed per the heap_event_property_map seed, kept under their own
    names otherwise) and only the columns every later step needs are lifted out.
#}
{{ config(enabled=var('heap_enabled')) }}
{% if var('heap_s3_path') %}
-- depends_on: {{ ref('base_heap__s3_dumps') }}
{% elif var('heap_files_path') %}
-- depends_on: {{ ref('base_heap__export_files') }}
{% endif %}
-- depends_on: {{ ref('heap_event_property_map') }}
-- depends_on: {{ source('heap', 'pageviews') }}

{%- set property_map = posthog_migrate.mapping_rows('heap_event_property_map') %}
{%- set tables = posthog_migrate.heap_event_tables() %}
{%- set url_columns = ['domain', 'path', 'query', 'hash', 'landing_page', 'landing_page_query', 'landing_page_hash'] %}
{#- the session context every Heap event carries: the platform, and first-touch and place for persons -#}
{%- set context_columns = [
    'library', 'platform', 'device_type', 'browser', 'referrer', 'utm_source', 'utm_medium', 'utm_campaign',
    'utm_term', 'utm_content', 'country', 'region', 'city',
] %}

with

{% for table in tables %}
{%- set columns = posthog_migrate.columns_by_lower_name(table.relation) %}
{%- set pairs = posthog_migrate.mapped_property_pairs(
    columns, property_map, 'heap_column', posthog_migrate.heap_default_property_rule
) %}
events_from_{{ table.name | lower }} as (

    select
        ----------  ids
        '{{ table.name | lower }}' as source_table,
        {{ posthog_migrate.column_or_null(columns, 'event_id', dbt.type_string()) }} as event_id,
        {{ posthog_migrate.column_or_null(columns, 'user_id', dbt.type_string()) }} as user_id,
        {{ posthog_migrate.column_or_null(columns, 'session_id', dbt.type_string()) }} as session_id,
        source_row_locator,

        ----------  timestamps
        {{ posthog_migrate.utc_timestamp_column_or_null(columns, 'time') }} as event_at,

        ----------  url parts, for $current_url
        {% for name in url_columns -%}
        {{ posthog_migrate.column_or_null(columns, name, dbt.type_string()) }} as {{ name }},
        {% endfor %}
        ----------  session context, for event names and persons
        {% for name in context_columns -%}
        {{ posthog_migrate.column_or_null(columns, name, dbt.type_string()) }} as {{ name }},
        {% endfor %}
        ----------  properties
        {{ posthog_migrate.json_object_text(pairs) }} as properties

    from {{ posthog_migrate.heap_located_rows(table, columns) }}

),

{% endfor %}
final as (

    {% for table in tables -%}
    select * from events_from_{{ table.name | lower }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from final
