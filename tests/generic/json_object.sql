{#- The column holds JSON text of an object (what PostHog expects for properties and events). -#}
{% test json_object(model, column_name) %}

    select {{ column_name }}
    from {{ model }}
    where {{ column_name }} is not null and not ({{ posthog_migrate.is_json_object(column_name) }})

{% endtest %}
