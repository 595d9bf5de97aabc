{#
    Identity links PostHog needs before any event lands: each identified user's Heap user id is linked to its
    identity, and each user merged away by user_migrations is linked to the distinct id it finally became.
    posthog_aliases sends each as $create_alias: `alias` joins the person of `distinct_id`.
#}

with

resolved as (

    select * from {{ ref('int_heap_users__resolved') }}

),

users as (

    select
        user_id,
        -- links go at times PostHog can store (a link without one is not sent)
        coalesce(
            {{ posthog_migrate.posthog_storable_time('joined_at') }},
            {{ posthog_migrate.posthog_storable_time('last_modified_at') }}
        ) as first_seen_at
    from {{ ref('stg_heap__users') }}

),

migrations as (

    select
        from_user_id,
        {{ posthog_migrate.posthog_storable_time('migrated_at') }} as migrated_at
    from {{ ref('stg_heap__user_migrations') }}

),

identity_links as (

    select
        resolved.distinct_id,
        resolved.user_id as alias,
        users.first_seen_at as linked_at,
        'identity' as link_reason
    from resolved
    inner join users on resolved.user_id = users.user_id
    where resolved.user_id = resolved.final_user_id and resolved.distinct_id_source = 'identity'

),

migration_links as (

    select
        resolved.distinct_id,
        resolved.user_id as alias,
        migrations.migrated_at as linked_at,
        'migration' as link_reason
    from resolved
    inner join migrations on resolved.user_id = migrations.from_user_id
    where resolved.user_id != resolved.final_user_id

),

links as (

    select * from identity_links
    union all
    select * from migration_links

),

deduplicated as (

    select
        *,
        row_number() over (partition by distinct_id, alias order by linked_at, link_reason) as occurrence
    from links
    where
        distinct_id is not null
        and distinct_id != alias
        and linked_at is not null
        and {{ posthog_migrate.is_legal_distinct_id('alias') }}

),

final as (

    select
        distinct_id,
        alias,
        linked_at,
        link_reason
    from deduplicated
    where occurrence = 1

)

select * from final
