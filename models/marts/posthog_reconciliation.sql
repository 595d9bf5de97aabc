{#
    One row per table of every source schema. For the tables whose rows are sent or applied: rows in the source =
    rows emitted + quarantined + skipped, and every emitted row is in the contract views. Source rows are counted
    from the source tables themselves and delivered rows from the contract views, so a row lost anywhere in
    between shows up (`unaccounted_rows`, `emitted_rows_missing`) and the tests on those columns fail the build.
    Tables that are not read (sync metadata, raw twins, the event index) have a row saying so (`table_role`,
    `role_note`), so no table can disappear unnoticed.
#}
with

{% if var('heap_enabled') %}
heap_counts as (

    select * from {{ ref('int_heap_source_tables__counted') }}

),

{% endif %}
{% if var('amplitude_enabled') %}
amplitude_counts as (

    select * from {{ ref('int_amplitude_source_tables__counted') }}

),

{% endif %}
{% if var('custom_events_relation') %}
custom_counts as (

    select * from {{ ref('int_custom_source_tables__counted') }}

),

{% endif %}
source_rows as (

    {% for source_name in posthog_migrate.enabled_sources() %}
    select
        '{{ source_name }}' as source_name,
        source_table,
        table_role,
        role_note,
        source_rows
    from {{ source_name }}_counts
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

outcomes as (

    select
        source_name,
        source_table,
        contract_view,
        sum(case when row_status = 'emitted' then 1 else 0 end) as emitted_rows,
        sum(case when row_status = 'quarantined' then 1 else 0 end) as quarantined_rows,
        sum(case when row_status = 'skipped' then 1 else 0 end) as skipped_rows
    from {{ ref('int_source_rows__accounted') }}
    group by source_name, source_table, contract_view

),

delivered as (

    select
        'posthog_events' as contract_view,
        source_name,
        source_table,
        count(*) as contract_rows
    from {{ ref('posthog_events') }}
    group by source_name, source_table

    union all

    select
        'posthog_persons' as contract_view,
        source_name,
        source_table,
        count(*) as contract_rows
    from {{ ref('posthog_persons') }}
    group by source_name, source_table

),

final as (

    select
        source_rows.source_name,
        source_rows.source_table,
        source_rows.table_role,
        source_rows.role_note,
        source_rows.source_rows,
        coalesce(outcomes.emitted_rows, 0) as emitted_rows,
        coalesce(outcomes.quarantined_rows, 0) as quarantined_rows,
        coalesce(outcomes.skipped_rows, 0) as skipped_rows,
        -- a table that is not read has nothing to account for
        coalesce(source_rows.source_rows, 0)
        - coalesce(outcomes.emitted_rows, 0)
        - coalesce(outcomes.quarantined_rows, 0)
        - coalesce(outcomes.skipped_rows, 0) as unaccounted_rows,
        case
            -- rows applied or folded rather than sent one for one (migrations, merges, a custom source's person
            -- updates) have no contract rows to check
            when outcomes.contract_view is null then 0
            else coalesce(outcomes.emitted_rows, 0) - coalesce(delivered.contract_rows, 0)
        end as emitted_rows_missing
    from source_rows
    left join outcomes
        on source_rows.source_name = outcomes.source_name and source_rows.source_table = outcomes.source_table
    left join delivered
        on
            outcomes.contract_view = delivered.contract_view
            and outcomes.source_name = delivered.source_name
            and outcomes.source_table = delivered.source_table

)

select * from final
