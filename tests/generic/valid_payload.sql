{#
    Every row has a payload and it is a JSON object: one pass, because on DuckDB the payload is built as it is
    read. (The per-event size limit is enforced by the loader, which quarantines oversize events with a reason.)
#}
{% test valid_payload(model, column_name) %}

    select {{ column_name }}
    from {{ model }}
    where {{ column_name }} is null or not ({{ posthog_migrate.is_json_object(column_name) }})

{% endtest %}
