{#
    Every payload exists and is a JSON object. On DuckDB payloads are built as they are read, so parsing all of
    them costs as much as building them: `uuid_prefix` checks only rows whose uuid starts with it. uuids are
    uniform, so '0' is a deterministic one-in-16 sample, which any systematic defect cannot escape. The loader
    checks every event again before sending, and enforces the per-event size limit.
#}
{% test valid_payload(model, column_name, uuid_prefix='') %}

    select {{ column_name }}
    from {{ model }}
    where
        {% if uuid_prefix %}substr(uuid, 1, {{ uuid_prefix | length }}) = '{{ uuid_prefix }}' and{% endif %}
        ({{ column_name }} is null or not ({{ posthog_migrate.is_json_object(column_name) }}))

{% endtest %}
