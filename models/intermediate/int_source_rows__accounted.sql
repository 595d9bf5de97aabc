{#-
    Every row of every enabled source with what became of it (emitted, quarantined, skipped) and the contract view
    its emitted rows reach: what posthog_quarantine lists and posthog_reconciliation counts.
-#}
with

{% if var('heap_enabled') %}
heap_rows as (

    select
        source_table,
        source_row_id,
        uuid,
        event,
        distinct_id,
        event_at as occurred_at,
        row_status,
        status_reason,
        'posthog_events' as contract_view
    from {{ ref('int_heap_events__classified') }}

    union all

    select
        source_table,
        source_row_id,
        uuid,
        event,
        distinct_id,
        person_at as occurred_at,
        row_status,
        status_reason,
        'posthog_persons' as contract_view
    from {{ ref('int_heap_persons__mapped') }}

),

{% endif %}
{% if var('amplitude_enabled') %}
amplitude_rows as (

    -- Amplitude's persons are derived from its events, so they account for no source row of their own
    select
        source_table,
        source_row_id,
        uuid,
        event,
        distinct_id,
        event_at as occurred_at,
        row_status,
        status_reason,
        'posthog_events' as contract_view
    from {{ ref('int_amplitude_events__classified') }}

),

{% endif %}
final as (

    {% for source_name in posthog_migrate.enabled_sources() %}
    select
        '{{ source_name }}' as source_name,
        *
    from {{ source_name }}_rows
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from final
