{#-
    The exact JSON object the loader sends for one row, every part non-null on emitted rows (DECISIONLOG: The
    payload is built once, in SQL, by concatenation).
-#}
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


{#-
    The UTF-8 bytes of posthog_payload(...) from the bytes of its properties, without building it: its fixed
    parts (the uuid, the timestamp with a four-digit year, the punctuation) are 132 bytes.
-#}
{% macro posthog_payload_bytes(event, distinct_id, properties_bytes) -%}
    (132 + {{ posthog_migrate.byte_length(posthog_migrate.json_quote(event)) }} + {{
        posthog_migrate.byte_length(posthog_migrate.json_quote(distinct_id)) }} + {{ properties_bytes }})
{%- endmacro %}


{#- What every contract view carries for the loader: the payload to send and the shard key to split reads by. -#}
{% macro posthog_delivery_columns(time_column) -%}
    {{ posthog_migrate.posthog_payload('uuid', 'event', 'distinct_id', time_column, 'properties') }} as payload,
    {{ posthog_migrate.uuid_shard_key('uuid') }} as shard_key
{%- endmacro %}


{#- The properties of a person's $set event, and their UTF-8 bytes from the bytes of the two objects. -#}
{% macro posthog_person_properties(set_properties, set_once_properties) -%}
    {%- set before_set, before_set_once, after = posthog_migrate._person_properties_text() -%}
    {{ dbt.concat([
        posthog_migrate.sql_string(before_set), set_properties,
        posthog_migrate.sql_string(before_set_once), set_once_properties, posthog_migrate.sql_string(after),
    ]) }}
{%- endmacro %}

{% macro posthog_person_properties_bytes(set_bytes, set_once_bytes) -%}
    ({{ posthog_migrate._person_properties_text() | join | length }} + {{ set_bytes }} + {{ set_once_bytes }})
{%- endmacro %}

{% macro _person_properties_text() %}
    {{ return(['{"$set":', ',"$set_once":', ',"$geoip_disable":true}']) }}
{% endmacro %}
