{#
    The Heap events whose (table, event id) occurs more than once, with the time of the first copy. Heap's sync
    can deliver a row twice; the first copy is emitted and the rest skipped. int_heap_events__classified is built
    one slice of time at a time and sees only its slice's copies: this tells it when an earlier slice holds one.
#}

with

events as (

    select
        source_table,
        event_id,
        event_at
    from {{ ref('stg_heap__events') }}
    where event_id is not null

),

final as (

    select
        source_table,
        event_id,
        min(event_at) as first_event_at
    from events
    group by source_table, event_id
    having count(*) > 1

)

select * from final
