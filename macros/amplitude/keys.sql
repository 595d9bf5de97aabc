{#
    An Amplitude row's time and uuid, as int_amplitude_events__classified gives them and as
    int_amplitude_events__duplicated needs them to find the copies of an event across time slices. `events` is the
    alias of stg_amplitude__events' rows (none: unqualified).
#}

{#-
    event_time is Amplitude's best estimate, then the client's clock; a time in the future (a device clock set
    wrong) is skipped for the server's, as PostHog's importer does (its PR #56079)
-#}
{% macro amplitude_event_at(events=none) -%}
    {%- set x = events ~ '.' if events else '' -%}
    case
        when {{ x }}occurred_at <= {{ posthog_migrate.utc_now() }} then {{ x }}occurred_at
        when {{ x }}client_occurred_at <= {{ posthog_migrate.utc_now() }} then {{ x }}client_occurred_at
        else {{ x }}server_received_at
    end
{%- endmacro %}

{#- The row's own uuid, as PostHog reads it, when it is one -#}
{% macro amplitude_valid_source_uuid(events=none) -%}
    {%- set x = events ~ '.' if events else '' -%}
    {{ posthog_migrate.uuid_text_if_parsable(x ~ 'source_uuid') }}
{%- endmacro %}

{#-
    Else one derived from this key. Not from $insert_id: the warehouse export has none, and both ways in must give
    the same uuid; each part null-safe, so a line missing one still gets a stable uuid (the same as before when
    none is missing), as long as it names a device or user and a time.
-#}
{% macro amplitude_fallback_uuid_key(events=none) -%}
    {%- set x = events ~ '.' if events else '' -%}
    case
        when
            coalesce({{ x }}device_id, {{ x }}user_id) is not null
            and coalesce({{ x }}client_occurred_at, {{ x }}occurred_at, {{ x }}server_received_at) is not null
            then {{ dbt.concat([
                "'amplitude:'",
                "coalesce(" ~ x ~ "device_id, 'user:' || " ~ x ~ "user_id)",
                "':'",
                "coalesce(cast(" ~ x ~ "event_id as " ~ dbt.type_string() ~ "), '')",
                "':'",
                'coalesce(' ~ posthog_migrate.iso8601_utc(x ~ 'client_occurred_at') ~ ', '
                    ~ posthog_migrate.iso8601_utc(x ~ 'occurred_at') ~ ', '
                    ~ posthog_migrate.iso8601_utc(x ~ 'server_received_at') ~ ')',
                "':'",
                "coalesce(" ~ x ~ "event_type, '')",
            ]) }}
    end
{%- endmacro %}

{#- The uuid derived from a fallback key (null when the key is) -#}
{% macro amplitude_derived_uuid(fallback_uuid_key) -%}
    {{ posthog_migrate.uuid_from_md5_hex(posthog_migrate.md5_hex(fallback_uuid_key)) }}
{%- endmacro %}
