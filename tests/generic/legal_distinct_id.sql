{#- Not empty, not on PostHog's illegal list, not over 200 characters (see macros/posthog/distinct_ids.sql). -#}
{% test legal_distinct_id(model, column_name) %}

    select
        {{ column_name }},
        {{ posthog_migrate.distinct_id_rejection(column_name) }} as rejection
    from {{ model }}
    where {{ posthog_migrate.distinct_id_rejection(column_name) }} is not null

{% endtest %}
