{#-
    Every row of custom_persons_relation with what becomes of it: `emitted` rows are folded into their person's
    $set event (int_custom_persons__mapped), rows that cannot be are `quarantined` with the reason.
-#}
with

persons as (

    select * from {{ ref('stg_custom__persons') }}

),

checked as (

    select
        *,
        case
            when {{ posthog_migrate.distinct_id_rejection('distinct_id') }} is not null
                then 'no usable distinct_id: it is ' || {{ posthog_migrate.distinct_id_rejection('distinct_id') }}
            when timestamp_text is null then 'no timestamp'
            when updated_at is null
                then
                    'timestamp ' || timestamp_text
                    || ' is not a time (ISO 8601 with or without a zone, or Unix epoch seconds or milliseconds)'
            when ({{ posthog_migrate.posthog_time_rejection('updated_at') }}) is not null
                then {{ posthog_migrate.posthog_time_rejection('updated_at') }}
            when set_properties is null and set_once_properties is null then 'neither $set nor $set_once'
            when set_properties is not null and not {{ posthog_migrate.is_json_object('set_properties') }}
                then '$set is not a JSON object'
            when set_once_properties is not null and not {{ posthog_migrate.is_json_object('set_once_properties') }}
                then '$set_once is not a JSON object'
        end as quarantine_reason
    from persons

),

final as (

    select
        ----------  ids
        cast(null as {{ dbt.type_string() }}) as uuid,
        source_table,
        source_row_id,

        ----------  the person update
        '$set' as event,
        distinct_id,
        updated_at,
        set_properties,
        set_once_properties,

        ----------  outcome
        case when quarantine_reason is null then 'emitted' else 'quarantined' end as row_status,
        quarantine_reason as status_reason

    from checked

)

select * from final
