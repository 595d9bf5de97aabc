{#- Every time in the column is one PostHog can store (1970-01-01 to 2149-06-06); the models quarantine others. -#}
{% test posthog_storable_time(model, column_name) %}

    select {{ column_name }}
    from {{ model }}
    where ({{ posthog_migrate.posthog_time_rejection(column_name) }}) is not null

{% endtest %}
