{#-
    One row per PostHog person, sent as a $set event carrying $set and $set_once, and one per Amplitude group, sent
    as a $groupidentify event: both go after the aliases and before the events.
-#}
with

{% if var('heap_enabled') %}
heap_persons as (

    select * from {{ ref('int_heap_persons__mapped') }}

),

{% endif %}
{% if var('amplitude_enabled') %}
amplitude_persons as (

    select * from {{ ref('int_amplitude_persons__mapped') }}

),

amplitude_groups as (

    select * from {{ ref('int_amplitude_groups__mapped') }}

),

{% endif %}
{% if var('custom_events_relation') %}
custom_persons as (

    select * from {{ ref('int_custom_persons__mapped') }}

),

{% endif %}
unioned as (

    {% for source_name in posthog_migrate.enabled_sources() %}
    select
        '{{ source_name }}' as source_name,
        source_table,
        source_row_id as source_user_id,
        uuid,
        event,
        distinct_id,
        person_at,
        set_properties,
        set_once_properties,
        properties
    from {{ source_name }}_persons
    where row_status = 'emitted'
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
    {% if var('amplitude_enabled') %}
    union all
    select
        'amplitude' as source_name,
        source_table,
        source_row_id as source_user_id,
        uuid,
        event,
        distinct_id,
        person_at,
        set_properties,
        set_once_properties,
        properties
    from amplitude_groups
    where row_status = 'emitted'
    {% endif %}

),

final as (

    select
        uuid,
        event,
        distinct_id,
        person_at as timestamp,
        set_properties,
        set_once_properties,
        source_name,
        source_table,
        source_user_id,
        {{ posthog_migrate.posthog_delivery_columns('person_at') }}
    from unioned
    {% if is_incremental() %}
        where {{ posthog_migrate.within_incremental_lookback('person_at') }}
    {% endif %}

)

select * from final
