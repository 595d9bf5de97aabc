{#-
    Identity links of the custom source: alias messages (`alias` joins the person of `distinct_id`), identify
    messages naming the anonymous id they identify (`$anon_distinct_id`, as PostHog's own identify does), and the
    rows of custom_aliases_relation.
-#}
with

messages as (

    select
        distinct_id,
        alias,
        event_at as linked_at,
        'alias' as link_reason
    from {{ ref('int_custom_events__classified') }}
    where alias is not null

    union all

    select
        distinct_id,
        anon_distinct_id as alias,
        event_at as linked_at,
        'identify' as link_reason
    from {{ ref('int_custom_events__classified') }}
    where anon_distinct_id is not null

    {% if var('custom_aliases_relation') -%}
    union all

    select
        distinct_id,
        alias,
        linked_at,
        'alias' as link_reason
    from {{ ref('int_custom_alias_rows__classified') }}
    where row_status = 'emitted'
    {%- endif %}

),

deduplicated as (

    select
        *,
        row_number() over (partition by distinct_id, alias order by linked_at, link_reason) as occurrence
    from messages
    where distinct_id != alias and {{ posthog_migrate.is_legal_distinct_id('alias') }}

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
