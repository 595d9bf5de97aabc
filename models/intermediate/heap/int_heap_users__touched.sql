{#
    Each Heap user's first touch and place, for the person properties PostHog's own SDKs and GeoIP would have set.
    Heap Connect does not sync Heap's initial user properties (and a users table may lack them), so the $initial_*
    values posthog-js sets on a person's first event come from the user's first pageview (else its first
    session), and $geoip_* ($set) / $initial_geoip_* ($set_once) from the latest and the first touch that has a
    place: events are sent with $geoip_disable, so PostHog never locates the person itself. Touches of users
    merged away count for the user they became.
#}
{%- set context_columns = [
    'library', 'platform', 'device_type', 'browser', 'referrer', 'utm_source', 'utm_medium', 'utm_campaign',
    'utm_term', 'utm_content', 'country', 'region', 'city',
] %}
{%- set scheme = '^[a-zA-Z][a-zA-Z0-9+.-]*://' %}

with

resolved as (

    select
        user_id,
        final_user_id
    from {{ ref('int_heap_users__resolved') }}

),

pageview_touches as (

    select
        user_id,
        event_at as touched_at,
        1 as touch_priority,
        event_id as touch_id,
        {{ context_columns | join(', ') }},
        {{ posthog_migrate.url_from_parts('domain', 'path', 'query', 'hash') }} as current_url,
        case
            when nullif(path, '') is not null then {{ posthog_migrate._url_part('path', '/') }}
            when nullif(domain, '') is not null then '/'
        end as pathname
    from {{ ref('stg_heap__events') }}
    where source_table = 'pageviews' and user_id is not null and event_at is not null

),

session_touches as (

    select
        user_id,
        started_at as touched_at,
        2 as touch_priority,
        session_id as touch_id,
        {{ context_columns | join(', ') }},
        {{ posthog_migrate.url_from_parts('landing_page', 'null', 'landing_page_query', 'landing_page_hash') }}
            as current_url,
        case when nullif(landing_page, '') is not null then coalesce(nullif({{ posthog_migrate.regex_capture(
            "regexp_replace(landing_page, '" ~ scheme ~ "', '')", '^[^/?#]*(/[^?#]*)'
        ) }}, ''), '/') end as pathname
    from {{ ref('stg_heap__sessions') }}
    where user_id is not null and started_at is not null

),

touches as (

    select
        coalesce(resolved.final_user_id, all_touches.user_id) as final_user_id,
        all_touches.*,
        lower(all_touches.library) in (
            {%- for library in var('heap_mobile_libraries') %}
            {{ posthog_migrate.sql_string(library | lower) }}{{ "," if not loop.last }}
            {%- endfor %}
        ) as is_mobile
    from (
        select * from pageview_touches
        union all
        select * from session_touches
    ) as all_touches
    left join resolved on all_touches.user_id = resolved.user_id

),

first_touches as (

    -- the first pageview, as posthog-js sets $initial_* on the first event it sends; the first session without one
    select *
    from (
        select
            *,
            row_number() over (
                partition by final_user_id order by touch_priority, touched_at, touch_id
            ) as touch_rank
        from touches
    ) as ranked
    where touch_rank = 1

),

located_touches as (

    select
        *,
        row_number() over (partition by final_user_id order by touched_at, touch_priority, touch_id) as first_rank,
        row_number() over (
            partition by final_user_id order by touched_at desc, touch_priority asc, touch_id desc
        ) as latest_rank
    from touches
    where coalesce(nullif(country, ''), nullif(region, ''), nullif(city, '')) is not null

),

final as (

    select
        first_touches.final_user_id as user_id,

        ----------  first touch, as posthog-js would have set it ($referrer is '$direct' on the web without one)
        case
            when first_touches.is_mobile then null
            else coalesce(nullif(first_touches.referrer, ''), '$direct')
        end as initial_referrer,
        case
            when first_touches.is_mobile then null
            when nullif(first_touches.referrer, '') is null then '$direct'
            else nullif({{ posthog_migrate.regex_capture('first_touches.referrer', scheme ~ '([^/?#]+)') }}, '')
        end as initial_referring_domain,
        first_touches.current_url as initial_current_url,
        first_touches.pathname as initial_pathname,
        nullif(first_touches.utm_source, '') as initial_utm_source,
        nullif(first_touches.utm_medium, '') as initial_utm_medium,
        nullif(first_touches.utm_campaign, '') as initial_utm_campaign,
        nullif(first_touches.utm_term, '') as initial_utm_term,
        nullif(first_touches.utm_content, '') as initial_utm_content,
        nullif(first_touches.browser, '') as initial_browser,
        {{ posthog_migrate.platform_os_name('first_touches.platform') }} as initial_os,
        {{ posthog_migrate.platform_os_version('first_touches.platform') }} as initial_os_version,
        nullif(first_touches.device_type, '') as initial_device_type,

        ----------  place: the first ($set_once) and the latest ($set) that has one
        nullif(first_place.country, '') as initial_geoip_country_name,
        nullif(first_place.region, '') as initial_geoip_subdivision_1_name,
        nullif(first_place.city, '') as initial_geoip_city_name,
        nullif(latest_place.country, '') as geoip_country_name,
        nullif(latest_place.region, '') as geoip_subdivision_1_name,
        nullif(latest_place.city, '') as geoip_city_name

    from first_touches
    left join located_touches as first_place
        on first_touches.final_user_id = first_place.final_user_id and first_place.first_rank = 1
    left join located_touches as latest_place
        on first_touches.final_user_id = latest_place.final_user_id and latest_place.latest_rank = 1

)

select * from final
