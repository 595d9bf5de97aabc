{#
    Each Heap user's first touch and place, for the person properties PostHog's own SDKs and GeoIP would have set.
    Heap Connect does not sync Heap's initial user properties (and a users table may lack them), so the $initial_*
    values posthog-js sets on a person's first event come from the user's first pageview (else its first
    session), and $geoip_* ($set) / $initial_geoip_* ($set_once) from the latest and the first touch that has a
    place: events are sent with $geoip_disable, so PostHog never locates the person itself. Touches of users
    merged away count for the user they became.

    The touches are read twice, by the grouping that picks each user's keys (keys only) and by the join back to
    the chosen rows: not_materialized() has DuckDB compute them where they are read rather than store every
    column of every touch (26 GB spilled at 100M events).
#}
{%- set context_columns = [
    'library', 'platform', 'device_type', 'browser', 'referrer', 'utm_source', 'utm_medium', 'utm_campaign',
    'utm_term', 'utm_content', 'country', 'region', 'city',
] %}
{%- set first_touch_columns = context_columns[:-3] + ['current_url', 'pathname'] %}
{%- set place_columns = ['country', 'region', 'city'] %}
{%- set scheme = '^[a-zA-Z][a-zA-Z0-9+.-]*://' %}

with

resolved as (

    select
        user_id,
        final_user_id
    from {{ ref('int_heap_users__resolved') }}

),

pageview_touches as {{ posthog_migrate.not_materialized() }} (

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

session_touches as {{ posthog_migrate.not_materialized() }} (

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

touches as {{ posthog_migrate.not_materialized() }} (

    select
        coalesce(resolved.final_user_id, all_touches.user_id) as final_user_id,
        all_touches.*,
        coalesce(
            nullif(all_touches.country, ''), nullif(all_touches.region, ''), nullif(all_touches.city, '')
        ) is not null as is_located
    from (
        select * from pageview_touches
        union all
        select * from session_touches
    ) as all_touches
    left join resolved on all_touches.user_id = resolved.user_id

),

keyed_touches as {{ posthog_migrate.not_materialized() }} (

    -- text keys that sort as the touches should (a touch without an id loses a tie), so each choice is a min or max
    select
        *,
        touch_priority_text || touched_at_text || missing_id_last || coalesce(touch_id, '') as first_touch_key,
        case
            when is_located then touched_at_text || touch_priority_text || missing_id_last || coalesce(touch_id, '')
        end as first_place_key,
        case
            when is_located
                then touched_at_text || earlier_priority_text || missing_id_first || coalesce(touch_id, '')
        end as latest_place_key
    from (
        select
            *,
            {{ posthog_migrate.iso8601_utc('touched_at') }} as touched_at_text,
            cast(touch_priority as {{ dbt.type_string() }}) as touch_priority_text,
            -- the latest place prefers a pageview at the same instant, as the first ones do
            cast(3 - touch_priority as {{ dbt.type_string() }}) as earlier_priority_text,
            case when touch_id is null then '1' else '0' end as missing_id_last,
            case when touch_id is null then '0' else '1' end as missing_id_first
        from touches
    ) as ordered_touches

),

chosen_keys as (

    -- the first pageview, as posthog-js sets $initial_* on the first event it sends; the first session without one
    select
        final_user_id,
        min(first_touch_key) as first_touch_key,
        min(first_place_key) as first_place_key,
        max(latest_place_key) as latest_place_key
    from keyed_touches
    group by final_user_id

),

chosen_touches as (

    select
        keyed_touches.*,
        keyed_touches.first_touch_key = chosen_keys.first_touch_key as is_first_touch,
        coalesce(keyed_touches.first_place_key = chosen_keys.first_place_key, false) as is_first_place,
        coalesce(keyed_touches.latest_place_key = chosen_keys.latest_place_key, false) as is_latest_place
    from keyed_touches
    inner join chosen_keys
        on
            keyed_touches.final_user_id = chosen_keys.final_user_id
            and (
                keyed_touches.first_touch_key = chosen_keys.first_touch_key
                or keyed_touches.first_place_key = chosen_keys.first_place_key
                or keyed_touches.latest_place_key = chosen_keys.latest_place_key
            )

),

chosen_values as (

    -- one row per user; copies of one touch (same id, same instant) may differ, and then each value is their least
    select
        {% for column in first_touch_columns %}
        min(case when is_first_touch then {{ column }} end) as {{ column }},
        {% endfor %}
        {% for column in place_columns %}
        min(case when is_first_place then {{ column }} end) as first_place_{{ column }},
        min(case when is_latest_place then {{ column }} end) as latest_place_{{ column }},
        {% endfor %}
        final_user_id
    from chosen_touches
    group by final_user_id

),

final as (

    select
        final_user_id as user_id,

        ----------  first touch, as posthog-js would have set it ($referrer is '$direct' on the web without one)
        case
            when is_mobile then null
            else coalesce(nullif(referrer, ''), '$direct')
        end as initial_referrer,
        case
            when is_mobile then null
            when nullif(referrer, '') is null then '$direct'
            else nullif({{ posthog_migrate.regex_capture('referrer', scheme ~ '([^/?#]+)') }}, '')
        end as initial_referring_domain,
        current_url as initial_current_url,
        pathname as initial_pathname,
        nullif(utm_source, '') as initial_utm_source,
        nullif(utm_medium, '') as initial_utm_medium,
        nullif(utm_campaign, '') as initial_utm_campaign,
        nullif(utm_term, '') as initial_utm_term,
        nullif(utm_content, '') as initial_utm_content,
        nullif(browser, '') as initial_browser,
        {{ posthog_migrate.platform_os_name('platform') }} as initial_os,
        {{ posthog_migrate.platform_os_version('platform') }} as initial_os_version,
        nullif(device_type, '') as initial_device_type,

        ----------  place: the first ($set_once) and the latest ($set) that has one
        nullif(first_place_country, '') as initial_geoip_country_name,
        nullif(first_place_region, '') as initial_geoip_subdivision_1_name,
        nullif(first_place_city, '') as initial_geoip_city_name,
        nullif(latest_place_country, '') as geoip_country_name,
        nullif(latest_place_region, '') as geoip_subdivision_1_name,
        nullif(latest_place_city, '') as geoip_city_name

    from (
        select
            *,
            lower(library) in (
                {%- for library in var('heap_mobile_libraries') %}
                {{ posthog_migrate.sql_string(library | lower) }}{{ "," if not loop.last }}
                {%- endfor %}
            ) as is_mobile
        from chosen_values
    ) as first_touches

)

select * from final
