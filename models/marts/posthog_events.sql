{#-
    One row per PostHog event, from every enabled source: the loader's input. As a table it is built a slice of
    time at a time (sliced_table).
-#}
{%- set slice_plan = [] %}
{%- for source_name in posthog_migrate.enabled_sources() %}
{%- do slice_plan.append(['int_' ~ source_name ~ '_events__mapped', 'event_at']) %}
{%- endfor %}
{{ config(slice_time='timestamp', slice_plan=slice_plan) }}

with

{% if var('heap_enabled') %}
heap_events as (

    select * from {{ ref('int_heap_events__mapped') }}

),

{% endif %}
{% if var('amplitude_enabled') %}
amplitude_events as (

    select * from {{ ref('int_amplitude_events__mapped') }}

),

{% endif %}
{% if var('custom_events_relation') %}
custom_events as (

    select * from {{ ref('int_custom_events__mapped') }}

),

{% endif %}
unioned as (

    {% for source_name in posthog_migrate.enabled_sources() %}
    select
        '{{ source_name }}' as source_name,
        source_table,
        source_row_id,
        uuid,
        event,
        distinct_id,
        event_at,
        properties
    from {{ source_name }}_events
    where {{ posthog_migrate.slice_filter('event_at') }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

final as (

    select
        uuid,
        event,
        distinct_id,
        event_at as timestamp,
        properties,
        source_name,
        source_table,
        source_row_id,
        {{ posthog_migrate.posthog_delivery_columns('event_at') }}
    from unioned
    {% if is_incremental() %}
        where {{ posthog_migrate.within_incremental_lookback('event_at') }}
    {% endif %}

)

select * from final
