{#
    When each Heap session started, and the UUIDv7 PostHog gets as its $session_id. The start is the sessions
    table's `time`; a session missing from that table (or with a time PostHog cannot store) starts at its first
    event. The times of its first and last events tell a time slice of events which sessions it needs.
#}

with

sessions as (

    -- only times PostHog can store: a UUIDv7 cannot carry a time before 1970
    select
        session_id,
        min({{ posthog_migrate.posthog_storable_time('started_at') }}) as started_at
    from {{ ref('stg_heap__sessions') }}
    where session_id is not null
    group by session_id

),

event_sessions as (

    select
        session_id,
        min({{ posthog_migrate.posthog_storable_time('event_at') }}) as first_storable_event_at,
        -- every event's time, storable or not: the slices of int_heap_events__classified it reaches into
        min(event_at) as first_event_at,
        max(event_at) as last_event_at
    from {{ ref('stg_heap__events') }}
    where session_id is not null
    group by session_id

),

started as (

    select
        coalesce(sessions.session_id, event_sessions.session_id) as session_id,
        coalesce(sessions.started_at, event_sessions.first_storable_event_at) as started_at,
        event_sessions.first_event_at,
        event_sessions.last_event_at
    from sessions
    full outer join event_sessions on sessions.session_id = event_sessions.session_id

),

hashed as (

    select
        session_id,
        started_at,
        first_event_at,
        last_event_at,
        {{ posthog_migrate.epoch_ms('started_at') }} as started_at_ms,
        {{ posthog_migrate.md5_hex("'heap:session:' || session_id") }} as session_hash
    from started
    where started_at is not null

),

final as (

    select
        session_id,
        started_at,
        {{ posthog_migrate.uuid_v7('started_at_ms', 'session_hash') }} as posthog_session_id,
        first_event_at,
        last_event_at
    from hashed
    -- a UUIDv7 carries 48 bits of epoch milliseconds: a session outside them (before 1970) gets no $session_id
    where started_at_ms between 0 and 281474976710655

)

select * from final
