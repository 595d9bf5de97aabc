{#
    Row counts straight from Heap's tables, independent of every transformation, so the reconciliation can
    prove that each source row was emitted, quarantined or skipped.
#}

with

final as (

    {% for relation in posthog_migrate.heap_event_relations() %}
    select
        '{{ relation.identifier | lower }}' as source_table,
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
