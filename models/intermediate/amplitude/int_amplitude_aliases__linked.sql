{#
    Identity links for Amplitude, computed in SQL rather than remembered by a script: each device is linked to
    the first user seen on it (PostHog refuses to merge two identified persons, so a shared device can only join
    one), as $create_alias with the user as distinct_id and the device as alias. MERGE_IDS adds devices whose
    amplitude id was merged into a user's, even when that device never carried the user id itself.
#}

with

events as (

    select
        device_id,
        user_id,
        amplitude_id,
        event_at
    from {{ ref('int_amplitude_events__classified') }}
    where row_status != 'quarantined' and {{ posthog_migrate.is_legal_distinct_id('device_id') }}

),

id_merges as (

    -- one per amplitude id (its latest merge): see int_amplitude_merge_ids__classified
    select
        amplitude_id,
        merged_amplitude_id
    from {{ ref('int_amplitude_merge_ids__classified') }}
    where row_status = 'emitted'

),

seen_together as (

    select
        device_id,
        user_id,
        min(event_at) as linked_at,
        'device' as link_reason
    from events
    where {{ posthog_migrate.is_legal_distinct_id('user_id') }}
    group by device_id, user_id

),

canonical_events as (

    -- MERGE_IDS maps a merged amplitude id to the one first assigned to the user
    select
        events.device_id,
        events.user_id,
        events.event_at,
        coalesce(id_merges.merged_amplitude_id, events.amplitude_id) as canonical_amplitude_id
    from events
    left join id_merges on events.amplitude_id = id_merges.amplitude_id

),

canonical_users as (

    select
        canonical_amplitude_id,
        min(user_id) as user_id
    from canonical_events
    where {{ posthog_migrate.is_legal_distinct_id('user_id') }}
    group by canonical_amplitude_id

),

merged_devices as (

    select
        canonical_events.device_id,
        canonical_users.user_id,
        min(canonical_events.event_at) as linked_at,
        'merge_ids' as link_reason
    from canonical_events
    inner join canonical_users on canonical_events.canonical_amplitude_id = canonical_users.canonical_amplitude_id
    group by canonical_events.device_id, canonical_users.user_id

),

candidates as (

    select * from seen_together
    union all
    select * from merged_devices

),

first_user_per_device as (

    select
        *,
        row_number() over (partition by device_id order by linked_at, link_reason, user_id) as user_rank
    from candidates
    where device_id != user_id

),

final as (

    select
        user_id as distinct_id,
        device_id as alias,
        linked_at,
        link_reason
    from first_user_per_device
    where user_rank = 1

)

select * from final
