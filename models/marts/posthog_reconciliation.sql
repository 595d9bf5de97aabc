{#
    Per source table: rows in the source = rows emitted + quarantined + skipped. Source rows are counted from the
    source tables themselves and emitted rows from the contract views, so a row lost anywhere in between shows up
    as `unaccounted`, and the test on that column fails the build. A table: it is tiny, and counting the
    contract views once is enough.
#}
{{ config(materialized='table') }}

with

source_rows as (

    {% for source_name in posthog_migrate.enabled_sources() %}
    select
        '{{ source_name }}' as source_name,
        source_table,
        source_rows
    from {{ ref('int_' ~ source_name ~ '_source_tables__counted') }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

emitted as (

    select
        source_name,
        source_table,
        count(*) as emitted_rows
    from {{ ref('posthog_events') }}
    group by source_name, source_table

    union all

    select
        source_name,
        'users' as source_table,
        count(*) as emitted_rows
    from {{ ref('posthog_persons') }}
    group by source_name

),

not_emitted as (

    {% for source_name in posthog_migrate.enabled_sources() %}
    {% for model in ['events__classified', 'persons__mapped'] %}
    select
        '{{ source_name }}' as source_name,
        source_table,
        sum(case when row_status = 'quarantined' then 1 else 0 end) as quarantined_rows,
        sum(case when row_status = 'skipped' then 1 else 0 end) as skipped_rows
    from {{ ref('int_' ~ source_name ~ '_' ~ model) }}
    group by source_table
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

final as (

    select
        source_rows.source_name,
        source_rows.source_table,
        source_rows.source_rows,
        coalesce(emitted.emitted_rows, 0) as emitted_rows,
        coalesce(not_emitted.quarantined_rows, 0) as quarantined_rows,
        coalesce(not_emitted.skipped_rows, 0) as skipped_rows,
        source_rows.source_rows
        - coalesce(emitted.emitted_rows, 0)
        - coalesce(not_emitted.quarantined_rows, 0)
        - coalesce(not_emitted.skipped_rows, 0) as unaccounted_rows
    from source_rows
    left join emitted
        on source_rows.source_name = emitted.source_name and source_rows.source_table = emitted.source_table
    left join not_emitted
        on source_rows.source_name = not_emitted.source_name and source_rows.source_table = not_emitted.source_table

)

select * from final
