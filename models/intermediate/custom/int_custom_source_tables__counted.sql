{#-
    Rows straight from the custom relations, independent of every transformation, for the reconciliation; and the
    persons derived from them.
-#}
with

final as (

    select
        '{{ source('custom', 'events').identifier | lower }}' as source_table,
        'events' as table_role,
        'each row becomes an event (posthog_events), or a person or alias update by its type' as role_note,
        count(*) as source_rows
    from {{ source('custom', 'events') }}
    union all
    -- persons are folded from the rows above: this counts the persons derived
    select
        'person_messages' as source_table,
        'persons' as table_role,
        'derived from $set, $set_once and identify messages: each is a person (posthog_persons)' as role_note,
        count(*) as source_rows
    from {{ ref('int_custom_persons__mapped') }}
    {% if var('custom_persons_relation') %}
    union all
    select
        '{{ source('custom_persons', 'persons').identifier | lower }}' as source_table,
        'persons' as table_role,
        'each row updates a person, folded into the persons derived (posthog_persons)' as role_note,
        count(*) as source_rows
    from {{ source('custom_persons', 'persons') }}
    {% endif %}
    {% if var('custom_aliases_relation') %}
    union all
    select
        '{{ source('custom_aliases', 'aliases').identifier | lower }}' as source_table,
        'identity' as table_role,
        'each row links a distinct id to another (posthog_aliases)' as role_note,
        count(*) as source_rows
    from {{ source('custom_aliases', 'aliases') }}
    {% endif %}

)

select * from final
