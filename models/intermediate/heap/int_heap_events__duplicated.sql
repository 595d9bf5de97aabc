{#
    The Heap events whose (table, event id) occurs more than once, with the time of the first copy. Heap's sync
    can deliver a row twice; the first copy is emitted and the rest skipped. int_heap_events__classified is built
    one slice of time at a time and sees only its slice's copies: this tells it when an earlier slice holds one.
    On DuckDB each table is grouped on its own: one grouping over the union of every table runs out of memory
    instead of spilling (DECISIONLOG: Heap's repeated event ids are found table by table on DuckDB).
#}
-- depends_on: {{ ref('stg_heap__events') }}
{%- set tables = [none] %}
{%- if target.type == 'duckdb' %}
{%- set tables = posthog_migrate.heap_event_tables() | map(attribute='name') | map('lower') | list %}
{%- endif %}

with

{% for table in tables %}
repeated_{{ 'events' if table is none else posthog_migrate.heap_table_cte(table) }} as (

    select
        source_table,
        event_id,
        min(event_at) as first_event_at
    from {{ ref('stg_heap__events') }}
    where
        event_id is not null
        {%- if table is not none %}
        and source_table = {{ posthog_migrate.sql_string(table) }}
        {%- endif %}
    group by source_table, event_id
    having count(*) > 1

),

{% endfor %}
final as (

    {% for table in tables -%}
    select * from repeated_{{ 'events' if table is none else posthog_migrate.heap_table_cte(table) }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from final
