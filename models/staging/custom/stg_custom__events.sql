{#-
    One row per row of the custom events relation (custom_events_relation), in PostHog's terms: the message type,
    event, distinct id, time in UTC (read from any common form, the text kept for the quarantine reason), and the
    property objects as JSON text.
-#}
{%- set relation = source('custom', 'events') %}
{%- set columns = posthog_migrate.custom_columns(
    relation, 'custom_events_relation', ['event', 'distinct_id', 'timestamp', 'properties']
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
        {{ posthog_migrate.column_or_null(columns, 'uuid', dbt.type_string()) }} as source_uuid,

        ----------  the message
        lower(trim({{ posthog_migrate.column_or_null(columns, 'type', dbt.type_string()) }})) as message_type,
        {{ posthog_migrate.column_or_null(columns, 'event', dbt.type_string()) }} as event,
        {{ posthog_migrate.column_or_null(columns, 'distinct_id', dbt.type_string()) }} as distinct_id,
        {{ posthog_migrate.column_or_null(columns, 'alias', dbt.type_string()) }} as alias,

        ----------  timestamps
        {{ posthog_migrate.column_or_null(columns, 'timestamp', dbt.type_string()) }} as timestamp_text,
        {{ posthog_migrate.custom_utc_time(columns, 'timestamp') }} as event_at,

        ----------  property objects (JSON text)
        {{ posthog_migrate.custom_json_text(columns, 'properties') }} as properties,
        {{ posthog_migrate.custom_json_text(columns, '$set') }} as set_column,
        {{ posthog_migrate.custom_json_text(columns, '$set_once') }} as set_once_column

    from source

)

select * from renamed
