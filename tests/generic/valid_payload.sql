{#-
    Every payload exists and is a JSON object. On DuckDB payloads are built as they are read, so parsing all of
    them costs as much as building them: large views limit it with a `where` config on the timestamp (a filter
    DuckDB pushes down to the source scans). The loader checks every event again before sending, and enforces
    the per-event size limit.
-#}
{% test valid_payload(model, column_name) %}

    select {{ column_name }}
    from {{ model }}
    where {{ column_name }} is null or not ({{ posthog_migrate.is_json_object(column_name) }})

{% endtest %}
