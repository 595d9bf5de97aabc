{#
    A mapping target must not be a name PostHog reserves for something else, and a `$` name must be one PostHog
    knows, per seeds/reference/posthog_name_catalog.csv. Names without `$` are custom and free to use.
#}
{% test valid_posthog_name(model, column_name, kind) %}

    with

    targets as (

        select {{ column_name }} as name
        from {{ model }}
        where {{ column_name }} is not null and {{ column_name }} != ''

    ),

    catalog as (

        select name, mappable
        from {{ ref('posthog_name_catalog') }}
        where kind = '{{ kind }}'

    ),

    invalid as (

        select
            targets.name,
            case
                when catalog.mappable = false then 'reserved by PostHog: ' || catalog.name
                else 'not a {{ kind }} PostHog knows'
            end as problem
        from targets
        left join catalog on targets.name = catalog.name
        where catalog.mappable = false or (targets.name like '$%' and catalog.name is null)

    )

    select * from invalid

{% endtest %}
