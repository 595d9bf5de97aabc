{#-
    Rows straight from the custom relations, independent of every transformation, for the reconciliation; and the
    persons derived from them.
-#}
with

final as (

    select
        '{{ source('custom', 'events').identifier | lower }}' as source_table,
        count(*) as source_rows
    from {{ source('custom', 'events') }}
    union all
    -- persons are folded from the rows above: this counts the persons derived
    select
        'person_messages' as source_table,
        count(*) as source_rows
    from {{ ref('int_custom_persons__mapped') }}
    {% if var('custom_persons_relation') %}
    union all
    select
        '{{ source('custom_persons', 'persons').identifier | lower }}' as source_table,
        count(*) as source_rows
    from {{ source('custom_persons', 'persons') }}
    {% endif %}
    {% if var('custom_aliases_relation') %}
    union all
    select
        '{{ source('custom_aliases', 'aliases').identifier | lower }}' as source_table,
        count(*) as source_rows
    from {{ source('custom_aliases', 'aliases') }}
    {% endif %}

)

select * from final
