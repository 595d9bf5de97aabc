{#
    Every row of Heap's user_migrations with what becomes of it: `emitted` (applied: the user's latest migration,
    followed by identity resolution and sent as a $create_alias link), `skipped` (a user merged into itself, or a
    migration superseded by a later one of the same user) or `quarantined` (a row missing a user id or its time).
#}
with

migrations as (

    select * from {{ ref('stg_heap__user_migrations') }}

),

checked as (

    select
        *,
        case
            when from_user_id is null then 'no from_user_id'
            when to_user_id is null then 'no to_user_id'
            when migrated_at is null then 'no time, so it cannot be ordered among the migrations of its user'
        end as quarantine_reason
    from migrations

),

ranked as (

    -- each user has at most one outgoing migration that counts: its latest
    select
        *,
        row_number() over (
            partition by from_user_id, quarantine_reason is null and from_user_id != to_user_id
            order by migrated_at desc, to_user_id asc
        ) as recency
    from checked

),

final as (

    select
        ----------  ids
        'user_migrations' as source_table,
        from_user_id as source_row_id,
        cast(null as {{ dbt.type_string() }}) as uuid,
        from_user_id,
        to_user_id,

        ----------  what it becomes
        '$create_alias' as event,
        cast(null as {{ dbt.type_string() }}) as distinct_id,
        migrated_at,

        ----------  outcome
        case
            when quarantine_reason is not null then 'quarantined'
            when from_user_id = to_user_id then 'skipped'
            when recency > 1 then 'skipped'
            else 'emitted'
        end as row_status,
        case
            when quarantine_reason is not null then quarantine_reason
            when from_user_id = to_user_id then 'a user merged into itself'
            when recency > 1 then 'superseded by a later migration of the same user'
        end as status_reason

    from ranked

)

select * from final
