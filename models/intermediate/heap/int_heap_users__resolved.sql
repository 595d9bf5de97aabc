{#
    Every Heap user id we know of, resolved to the user it finally became and to the distinct id PostHog gets
    (DECISIONLOG: user_migrations are walked with cycle detection).
#}

with recursive

users as (

    select
        user_id,
        identity,
        row_number() over (
            partition by user_id order by last_modified_at desc nulls last, identity asc
        ) as recency
    from {{ ref('stg_heap__users') }}
    where user_id is not null

),

latest_users as (

    select
        user_id,
        identity
    from users
    where recency = 1

),

migrations as (

    -- at most one per user (its latest), never a self-link: see int_heap_user_migrations__classified
    select
        from_user_id,
        to_user_id
    from {{ ref('int_heap_user_migrations__classified') }}
    where row_status = 'emitted'

),

walks as (

    select
        from_user_id as start_user_id,
        to_user_id as reached_user_id,
        1 as hops,
        -- typed unbounded, in both terms: Snowflake sizes a recursive column by its first rows and rejects longer
        -- paths; PostgreSQL and Redshift want both terms of one type
        cast('/' || from_user_id || '/' || to_user_id || '/' as {{ dbt.type_string() }}) as visited
    from migrations

    union all

    -- one more hop, never revisiting a user, except the hop that closes a cycle back to the start
    select
        walks.start_user_id,
        migrations.to_user_id as reached_user_id,
        walks.hops + 1 as hops,
        cast(walks.visited || migrations.to_user_id || '/' as {{ dbt.type_string() }}) as visited
    from walks
    inner join migrations on walks.reached_user_id = migrations.from_user_id
    where
        walks.reached_user_id != walks.start_user_id
        and (
            migrations.to_user_id = walks.start_user_id
            or {{ dbt.position("'/' || migrations.to_user_id || '/'", 'walks.visited') }} = 0
        )

),

cycle_members as (

    select distinct start_user_id as user_id from walks
    where reached_user_id = start_user_id

),

walk_ends as (

    select
        walks.start_user_id as user_id,
        max(case when onward.from_user_id is null then walks.reached_user_id end) as last_user_id,
        min(case when cycle_members.user_id is not null then walks.reached_user_id end) as cycle_user_id,
        max(walks.hops) as hops
    from walks
    left join migrations as onward on walks.reached_user_id = onward.from_user_id
    left join cycle_members on walks.reached_user_id = cycle_members.user_id
    group by walks.start_user_id

),

known_user_ids as (

    select distinct user_id
    from (
        select user_id from latest_users
        union all
        select from_user_id from migrations
        union all
        select to_user_id from migrations
    ) as all_user_ids

),

resolved as (

    select
        known_user_ids.user_id,
        coalesce(walk_ends.last_user_id, walk_ends.cycle_user_id, known_user_ids.user_id) as final_user_id,
        coalesce(walk_ends.hops, 0) as migration_hops
    from known_user_ids
    left join walk_ends on known_user_ids.user_id = walk_ends.user_id

),

final as (

    select
        resolved.user_id,
        resolved.final_user_id,
        resolved.migration_hops,
        final_users.identity as final_identity,
        {{ posthog_migrate.distinct_id_rejection('final_users.identity') }} as identity_rejection,
        case
            when {{ posthog_migrate.is_legal_distinct_id('final_users.identity') }} then final_users.identity
            when {{ posthog_migrate.is_legal_distinct_id('resolved.final_user_id') }} then resolved.final_user_id
        end as distinct_id,
        case
            when {{ posthog_migrate.is_legal_distinct_id('final_users.identity') }} then 'identity'
            when {{ posthog_migrate.is_legal_distinct_id('resolved.final_user_id') }} then 'user_id'
        end as distinct_id_source
    from resolved
    left join latest_users as final_users on resolved.final_user_id = final_users.user_id

)

select * from final
