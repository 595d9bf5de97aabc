{#- Distinct ids PostHog refuses, compared case-insensitively (DECISIONLOG: Distinct ids PostHog refuses). -#}
{% macro illegal_distinct_ids() %}
    {{ return([
        'anonymous', 'guest', 'distinctid', 'distinct_id', 'id', 'not_authenticated', 'email', 'undefined',
        'true', 'false', '[object object]', 'nan', 'none', 'null', '0',
        '00000000-0000-0000-0000-000000000000', 'anonymous-user', 'backend', 'system', 'user',
    ]) }}
{% endmacro %}

{#- PostHog truncates longer distinct ids (v0) or rejects them (v1); either breaks identity. -#}
{% macro max_distinct_id_length() %}{{ return(200) }}{% endmacro %}

{#- Why a candidate id cannot be a distinct id, or null when it can. -#}
{% macro distinct_id_rejection(expr) -%}
    case
        when {{ expr }} is null then 'empty'
        when trim({{ expr }}) = '' then 'empty'
        when lower({{ posthog_migrate.trim_characters('trim(' ~ expr ~ ')', posthog_migrate.sql_string('"' ~ "'")) }}) in (
            {%- for id in posthog_migrate.illegal_distinct_ids() %}
            {{ posthog_migrate.sql_string(id) }}{{ "," if not loop.last }}
            {%- endfor %}
        ) then 'on the PostHog illegal distinct id list'
        when length({{ expr }}) > {{ posthog_migrate.max_distinct_id_length() }}
            then 'longer than {{ posthog_migrate.max_distinct_id_length() }} characters'
    end
{%- endmacro %}

{% macro is_legal_distinct_id(expr) -%}
    ({{ posthog_migrate.distinct_id_rejection(expr) }}) is null
{%- endmacro %}
