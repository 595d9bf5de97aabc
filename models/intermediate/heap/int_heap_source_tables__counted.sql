{#
    Every table of the Heap schema, with its role and, for the tables whose rows are sent (events, persons) or
    applied (identity), their row count read straight from the table, independent of every transformation, so the
    reconciliation can prove that each source row was emitted, quarantined or skipped. Tables that are not read
    (sync metadata, raw twins, the event index) get a row too, saying so: no table disappears without a trace.
#}
{% if var('heap_s3_path') %}
-- depends_on: {{ ref('base_heap__s3_dumps') }}
{% elif var('heap_files_path') %}
-- depends_on: {{ ref('base_heap__export_files') }}
{% endif %}

with

final as (

    {% for table in posthog_migrate.heap_source_tables() %}
    select
        {{ posthog_migrate.sql_string(table.name | lower) }} as source_table,
        {{ posthog_migrate.sql_string(table.role) }} as table_role,
        {{ posthog_migrate.sql_string(table.note) }} as role_note,
        {% if table.role in ('events', 'persons', 'identity') -%}
        (select count(*) from {{ table.relation }}) as source_rows
        {%- else -%}
        cast(null as {{ dbt.type_bigint() }}) as source_rows
        {%- endif %}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from final
