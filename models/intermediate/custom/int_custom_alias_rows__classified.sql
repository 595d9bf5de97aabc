{#-
    Every row of custom_aliases_relation with what becomes of it: `emitted` rows become identity links
    (int_custom_aliases__linked), links of an id to itself and repeated links are `skipped`, rows that cannot be a
    link are `quarantined` with the reason.
-#}
with

aliases as (

    select * from {{ ref('stg_custom__aliases') }}

),

checked as (

    select
        *,
        case
            when {{ posthog_migrate.distinct_id_rejection('distinct_id') }} is not null
                then 'no usable distinct_id: it is ' || {{ posthog_migrate.distinct_id_rejection('distinct_id') }}
            when {{ posthog_migrate.distinct_id_rejection('alias') }} is not null
                then 'no usable alias: it is ' || {{ posthog_migrate.distinct_id_rejection('alias') }}
            when timestamp_text is null then 'no timestamp'
            when linked_at is null
                then
                    'timestamp ' || timestamp_text
                    || ' is not a time (ISO 8601 with or without a zone, or Unix epoch seconds or milliseconds)'
            when ({{ posthog_migrate.posthog_time_rejection('linked_at') }}) is not null
                then {{ posthog_migrate.posthog_time_rejection('linked_at') }}
        end as quarantine_reason
    from aliases

),

numbered as (

    select
        *,
        row_number() over (
            partition by distinct_id, alias, quarantine_reason is null order by linked_at, source_row_id
        ) as occurrence
    from checked

),

final as (

    select
        ----------  ids
        cast(null as {{ dbt.type_string() }}) as uuid,
        source_table,
        source_row_id,

        ----------  the link
        '$create_alias' as event,
        distinct_id,
        alias,
        linked_at,

        ----------  outcome
        case
            when quarantine_reason is not null then 'quarantined'
            when distinct_id = alias or occurrence > 1 then 'skipped'
            else 'emitted'
        end as row_status,
        case
            when quarantine_reason is not null then quarantine_reason
            when distinct_id = alias then 'links an id to itself'
            when occurrence > 1 then 'duplicate of a link already emitted'
        end as status_reason

    from numbered

)

select * from final
