{#
    One row per table of every source schema. For the tables whose rows are sent or applied: rows in the source =
    rows emitted + quarantined + skipped, and every emitted row is in the contract views. Source rows are counted
    from the source tables themselves and delivered rows from the contract views, so a row lost anywhere in
    between shows up (`unaccounted_rows`, `emitted_rows_missing`) and the tests on those columns fail the build.
    Tables that are not read (sync metadata, raw twins, the event index) have a row saying so (`table_role`,
    `role_note`), so no table can disappear unnoticed. A table: it is tiny, and counting once is enough.
#}
{{ config(materialized='table') }}

with

source_rows as (

    {% for source_name in posthog_migrate.enabled_sources() %}
    select
        '{{ source_name }}' as source_name,
        source_table,
        table_role,
        role_note,
        source_rows
    from {{ ref('int_' ~ source_name ~ '_source_tables__counted') }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

outcomes as (

    {% for source_name in posthog_migrate.enabled_sources() %}
    {% set source_loop = loop %}
    {% for model, contract, time_column in posthog_migrate.reconciled_models(source_name) %}
    select
        '{{ source_name }}' as source_name,
        source_table,
        sum(case when row_status = 'emitted' then 1 else 0 end) as emitted_rows,
        sum(case when row_status = 'quarantined' then 1 else 0 end) as quarantined_rows,
        sum(case when row_status = 'skipped' then 1 else 0 end) as skipped_rows
    from {{ ref(model) }}
    group by source_table
    {% if not (loop.last and source_loop.last) %}union all{% endif %}
    {% endfor %}
    {% endfor %}

),

delivered as (

    {% for source_name in posthog_migrate.enabled_sources() %}
    {% set source_loop = loop %}
    {% for model, contract, time_column in posthog_migrate.reconciled_models(source_name) if contract %}
    select
        source_name,
        source_table,
        count(*) as contract_rows
    from {{ ref(contract) }}
    where source_name = '{{ source_name }}'
    group by source_name, source_table
    {% if not (loop.last and source_loop.last) %}union all{% endif %}
    {% endfor %}
    {% endfor %}

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
        -- rows that are applied rather than sent one for one (migrations, merges) have no contract rows to check
        case
            when delivered.source_table is not null or source_rows.table_role in ('events', 'persons')
                then coalesce(outcomes.emitted_rows, 0) - coalesce(delivered.contract_rows, 0)
            else 0
        end as emitted_rows_missing
    from source_rows
    left join outcomes
        on source_rows.source_name = outcomes.source_name and source_rows.source_table = outcomes.source_table
    left join delivered
        on source_rows.source_name = delivered.source_name and source_rows.source_table = delivered.source_table

)

select * from final
