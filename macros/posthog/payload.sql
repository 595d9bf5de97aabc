{#
    The exact JSON object the loader sends for one row, built by concatenation so every warehouse produces the
    same bytes: properties are already JSON text, strings are JSON-quoted, the timestamp is ISO 8601 UTC. Every
    part is non-null on the rows the contract views emit.
#}
{% macro posthog_payload(uuid, event, distinct_id, timestamp, properties) -%}
    {{ dbt.concat([
        "'{\"uuid\":\"'", uuid,
        "'\",\"event\":'", posthog_migrate.json_quote(event),
        "',\"distinct_id\":'", posthog_migrate.json_quote(distinct_id),
        "',\"timestamp\":\"'", posthog_migrate.iso8601_utc(timestamp),
        "'\",\"properties\":'", properties,
        "'}'",
    ]) }}
{%- endmacro %}
