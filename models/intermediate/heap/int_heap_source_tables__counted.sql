{#
    Row counts straight from Heap's tables, independent of every transformation, so the reconciliation can
    prove that each source row was emitted, quarantined or skipped.
#}
{% if var('heap_s3_path') %}
-- depends_on: {{ ref('base_heap__s3_dumps') }}
{% elif var('heap_files_path') %}
-- depends_on: {{ ref('base_heap__export_files') }}
{% endif %}

with

final as (

    {% for relation in posthog_migrate.heap_event_relations() %}
    select
        {{ posthog_migrate.sql_string(relation.identifier | lower) }} as source_table,
        count(*) as source_rows
    from {{ relation }}
    union all
    {% endfor %}
    select
        'users' as source_table,
        count(*) as source_rows
    from {{ source('heap', 'users') }}

)

select * from final
