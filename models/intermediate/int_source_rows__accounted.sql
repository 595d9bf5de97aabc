{#-
    Every row of every enabled source with what became of it (emitted, quarantined, skipped) and the contract view
    its emitted rows reach: what posthog_quarantine lists and posthog_reconciliation counts. One entry per model that
    holds one row per source row: [source, model, its time column, contract view (none: folded into derived rows)].
-#}
{%- set outcome_models = [] %}
{%- if var('heap_enabled') %}
{%- do outcome_models.append(['heap', ref('int_heap_events__classified'), 'event_at', 'posthog_events']) %}
{%- do outcome_models.append(['heap', ref('int_heap_persons__mapped'), 'person_at', 'posthog_persons']) %}
{#- a migration is applied (persons merged), not sent one for one -#}
{%- do outcome_models.append(['heap', ref('int_heap_user_migrations__classified'), 'migrated_at', none]) %}
{%- endif %}
{%- if var('amplitude_enabled') %}
{%- do outcome_models.append(['amplitude', ref('int_amplitude_events__classified'), 'event_at', 'posthog_events']) %}
{#- a merge is applied (its ids become aliases), not sent one for one -#}
{%- do outcome_models.append(['amplitude', ref('int_amplitude_merge_ids__classified'), 'merged_at', none]) %}
{#- Amplitude's persons are derived from its events: counted as derived, so one PostHog would refuse shows -#}
{%- do outcome_models.append(['amplitude', ref('int_amplitude_persons__mapped'), 'person_at', 'posthog_persons']) %}
{%- endif %}
{%- if var('custom_events_relation') %}
{%- do outcome_models.append(['custom', ref('int_custom_events__classified'), 'event_at', 'posthog_events']) %}
{#- persons are folded from many rows: counted as derived, so one PostHog would refuse shows -#}
{%- do outcome_models.append(['custom', ref('int_custom_persons__mapped'), 'person_at', 'posthog_persons']) %}
{%- if var('custom_persons_relation') %}
{%- do outcome_models.append(['custom', ref('int_custom_person_rows__classified'), 'updated_at', none]) %}
{%- endif %}
{%- if var('custom_aliases_relation') %}
{%- do outcome_models.append(['custom', ref('int_custom_alias_rows__classified'), 'linked_at', none]) %}
{%- endif %}
{%- endif %}
{%- do posthog_migrate.enabled_sources() %}

with

final as (

    {% for source_name, model, time_column, contract_view in outcome_models %}
    select
        '{{ source_name }}' as source_name,
        source_table,
        source_row_id,
        uuid,
        event,
        distinct_id,
        {{ time_column }} as occurred_at,
        row_status,
        status_reason,
        {{ "'" ~ contract_view ~ "'" if contract_view else 'cast(null as ' ~ dbt.type_string() ~ ')' }}
            as contract_view
    from {{ model }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from final
