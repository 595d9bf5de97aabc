{#
    With posthog_contract_materialization: incremental, each run rebuilds the rows whose time is within
    posthog_incremental_lookback_days of the newest row already in the table, merging on uuid: new rows, late
    rows and re-classified rows inside the window are picked up. Older late data needs a full refresh.
#}
{% macro within_incremental_lookback(time_column) -%}
    {{ time_column }} >= (
        select {{ dbt.dateadd('day', -1 * var('posthog_incremental_lookback_days'), 'max(timestamp)') }}
        from {{ this }}
    )
{%- endmacro %}
