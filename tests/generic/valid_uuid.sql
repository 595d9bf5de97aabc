{#- Canonical lower-case UUID text of the given RFC 9562 version(s), as PostHog's capture parses it. -#}
{% test valid_uuid(model, column_name, versions=['7', '8']) %}

    select {{ column_name }}
    from {{ model }}
    where
        {{ column_name }} is not null
        and not {{ posthog_migrate.regex_matches(
            column_name,
            '^[0-9a-f]{8}-[0-9a-f]{4}-[' ~ versions | join('') ~ '][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$'
        ) }}

{% endtest %}
