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
-- depends_on: {{ ref('posthog_name_catalog') }}
-- depends_on: {{ source('heap', 'pageviews') }}

{%- set tables = posthog_migrate.heap_event_tables() %}
{#- the session context every Heap event carries: the platform, and first-touch and place for persons -#}
{%- set context_columns = [
    'library', 'platform', 'device_type', 'browser', 'referrer', 'utm_source', 'utm_medium', 'utm_campaign',
    'utm_term', 'utm_content', 'country', 'region', 'city',
] %}
{#-
    properties_bytes is measured where the payload may come near PostHog's limit: the properties' bound, the
    $current_url built from the url parts (6 bytes a byte when escaped), and 16 KiB for the rest of the payload
    (ids, event name, distinct id of at most 200 characters, the other derived properties).
-#}
{%- set heap_payload_rest_limit = posthog_migrate.posthog_max_event_bytes() - 16384 %}

with

{% for table in tables %}
{%- set columns = posthog_migrate.columns_by_lower_name(table.relation) %}
{%- set table_name = table.name | lower %}
{%- set url_bounds = ['64'] %}
{%- for name in posthog_migrate.heap_url_columns() if name in columns %}
{%- do url_bounds.append('coalesce(6 * ' ~ posthog_migrate.byte_length(
    posthog_migrate.column_or_null(columns, name, dbt.type_string())) ~ ', 0)') %}
{%- endfor %}
{%- set url_bound = url_bounds | join(' + ') %}
{%- set pairs = posthog_migrate.mapped_property_pairs(posthog_migrate.heap_event_column_rules(columns)) %}
{{ posthog_migrate.heap_table_cte(table_name) }} as (

    select
        ----------  ids
        {{ posthog_migrate.sql_string(table_name) }} as source_table,
        {{ posthog_migrate.column_or_null(columns, 'event_id', dbt.type_string()) }} as event_id,
        {{ posthog_migrate.column_or_null(columns, 'user_id', dbt.type_string()) }} as user_id,
        {{ posthog_migrate.column_or_null(columns, 'session_id', dbt.type_string()) }} as session_id,
        {{ posthog_migrate.heap_row_locator(table) }} as source_row_locator,

        ----------  timestamps
        {{ posthog_migrate.utc_timestamp_column_or_null(columns, 'time') }} as event_at,

        ----------  url parts, for $current_url
        {% for name in posthog_migrate.heap_url_columns() -%}
        {{ posthog_migrate.column_or_null(columns, name, dbt.type_string()) }} as {{ name }},
        {% endfor %}
        ----------  session context, for event names and persons
        {% for name in context_columns -%}
        {{ posthog_migrate.column_or_null(columns, name, dbt.type_string()) }} as {{ name }},
        {% endfor %}
        ----------  properties, and what PostHog would refuse in them
        {{ posthog_migrate.json_object_text(pairs) }} as properties,
        {{ posthog_migrate.json_object_bytes_if_large(pairs, url_bound, heap_payload_rest_limit) }}
            as properties_bytes,
        {{ posthog_migrate.refused_number_property(pairs) }} as refused_number_property

    from {{ posthog_migrate.heap_located_rows(table, columns) }}

),

{% endfor %}
final as (

    {% for table in tables -%}
    select * from {{ posthog_migrate.heap_table_cte(table.name) }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from final
