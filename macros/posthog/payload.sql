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


{#- What every contract view carries for the loader: the payload to send and the shard key to split reads by. -#}
{% macro posthog_delivery_columns(time_column) -%}
    {{ posthog_migrate.posthog_payload('uuid', 'event', 'distinct_id', time_column, 'properties') }} as payload,
    {{ posthog_migrate.uuid_shard_key('uuid') }} as shard_key
{%- endmacro %}


{#- The properties of a person's $set event. -#}
{% macro posthog_person_properties(set_properties, set_once_properties) -%}
    {{ dbt.concat([
        "'{\"$set\":'", set_properties, "',\"$set_once\":'", set_once_properties, "',\"$geoip_disable\":true}'",
    ]) }}
{%- endmacro %}
