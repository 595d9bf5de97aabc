{% if var('heap_s3_path') %}
-- depends_on: {{ ref('base_heap__s3_dumps') }}
{% elif var('heap_files_path') %}
-- depends_on: {{ ref('base_heap__export_files') }}
{% endif %}

{%- set columns = posthog_migrate.columns_by_lower_name(source('heap', 'sessions')) %}
{#- the session's context: where it landed, from where, on what and where on earth (for persons' first touch) -#}
{%- set context_columns = [
    'library', 'platform', 'device_type', 'browser', 'referrer', 'landing_page', 'landing_page_query',
    'landing_page_hash', 'utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'utm_content', 'country', 'region',
    'city',
] %}

with

source as (

    select * from {{ source('heap', 'sessions') }}

),

renamed as (

    select
        ----------  ids
        {{ posthog_migrate.column_or_null(columns, 'session_id', dbt.type_string()) }} as session_id,
        {{ posthog_migrate.column_or_null(columns, 'user_id', dbt.type_string()) }} as user_id,

        ----------  context
        {% for name in context_columns -%}
        {{ posthog_migrate.column_or_null(columns, name, dbt.type_string()) }} as {{ name }},
        {% endfor %}
        ----------  timestamps
        {{ posthog_migrate.utc_timestamp_column_or_null(columns, 'time') }} as started_at

    from source

)

select * from renamed
