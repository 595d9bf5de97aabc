{#
    Every row of Amplitude's MERGE_IDS with what becomes of it: `emitted` (applied: the latest merge of an amplitude
    id, used to link devices in int_amplitude_aliases__linked), `skipped` (an id merged into itself, or a merge
    superseded by a later one of the same id) or `quarantined` (a row missing an id). Empty when reading Export
    API files, which carry no merges.
#}
with

merge_rows as (

    select * from {{ ref('stg_amplitude__merge_ids') }}

),

checked as (

    select
        *,
        case
            when amplitude_id is null then 'no amplitude_id'
            when merged_amplitude_id is null then 'no merged_amplitude_id'
        end as quarantine_reason
    from merge_rows

),

ranked as (

    -- an amplitude id is merged once; should the table repeat one, its latest merge counts
    select
        *,
        row_number() over (
            partition by amplitude_id, quarantine_reason is null and amplitude_id != merged_amplitude_id
            order by merged_at desc, merged_amplitude_id asc
        ) as recency
    from checked

),

final as (

    select
        ----------  ids
        '{{ posthog_migrate.amplitude_merge_ids_source_table() }}' as source_table,
        amplitude_id as source_row_id,
        cast(null as {{ dbt.type_string() }}) as uuid,
        amplitude_id,
        merged_amplitude_id,

        ----------  what it becomes
        '$create_alias' as event,
        cast(null as {{ dbt.type_string() }}) as distinct_id,
        merged_at,

        ----------  outcome
        case
            when quarantine_reason is not null then 'quarantined'
            when amplitude_id = merged_amplitude_id then 'skipped'
            when recency > 1 then 'skipped'
            else 'emitted'
        end as row_status,
        case
            when quarantine_reason is not null then quarantine_reason
            when amplitude_id = merged_amplitude_id then 'an amplitude id merged into itself'
            when recency > 1 then 'superseded by a later merge of the same amplitude id'
        end as status_reason

    from ranked

)

select * from final
