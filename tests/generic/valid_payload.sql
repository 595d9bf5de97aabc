{#- Every payload exists and is a JSON object (DECISIONLOG: Generic tests do not parse every payload on DuckDB). -#}
{% test valid_payload(model, column_name) %}

    select {{ column_name }}
    from {{ model }}
    where {{ column_name }} is null or not ({{ posthog_migrate.is_json_object(column_name) }})

{% endtest %}
