{#
    An Amplitude row's time and uuid, as int_amplitude_events__classified gives them and as
    int_amplitude_events__duplicated needs them to find the copies of an event across time slices. `events` is the
    alias of stg_amplitude__events' rows (none: unqualified).
#}

{#- event_time is Amplitude's best estimate; the client's clock, then the server's, when it is missing -#}
{% macro amplitude_event_at(events=none) -%}
    {%- set x = events ~ '.' if events else '' -%}
    coalesce({{ x }}occurred_at, {{ x }}client_occurred_at, {{ x }}server_received_at)
{%- endmacro %}

{#- The row's own uuid, lower-cased, when it is one -#}
{% macro amplitude_valid_source_uuid(events=none) -%}
    {%- set x = events ~ '.' if events else '' -%}
    case
        when {{ posthog_migrate.regex_matches(
            'lower(' ~ x ~ 'source_uuid)', '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
        ) }}
            then lower({{ x }}source_uuid)
    end
{%- endmacro %}

{#- Else one derived from the row: not from $insert_id, which the warehouse export lacks (both ways in must give
    the same uuid) -#}
{% macro amplitude_derived_uuid(events=none) -%}
    {%- set x = events ~ '.' if events else '' -%}
    {{ posthog_migrate.uuid_from_md5_hex(posthog_migrate.md5_hex(
        "'amplitude:' || " ~ x ~ "device_id || ':' || cast(" ~ x ~ "event_id as "
        ~ dbt.type_string() ~ ") || ':' || " ~ posthog_migrate.iso8601_utc(x ~ 'client_occurred_at')
        ~ " || ':' || " ~ x ~ "event_type"
    )) }}
{%- endmacro %}
