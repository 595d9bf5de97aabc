{#
    Amplitude's top-level fields become PostHog properties per the amplitude_field_map seed. On web, Amplitude
    writes the browser into os_name/os_version and the operating system into device_type/device_family; on iOS
    and Android os_name is the operating system. The transforms say which fields apply where.
#}
{% macro amplitude_field_pairs(field_map, platform) %}
    {% set pairs = [] %}
    {% for rule in field_map if rule['transform'] != 'drop' %}
        {% set column = posthog_migrate.amplitude_column_name(rule['amplitude_field']) %}
        {% do pairs.append([
            rule['posthog_property'],
            posthog_migrate.amplitude_field_value(column, rule['transform'], platform),
        ]) %}
    {% endfor %}
    {{ return(pairs) }}
{% endmacro %}

{% macro amplitude_field_value(column, transform, platform) %}
    {% set is_web = "lower(" ~ platform ~ ") = 'web'" %}
    {% set is_mobile = "lower(" ~ platform ~ ") in ('ios', 'android')" %}
    {% if transform == 'value' %}
        {{ return(column) }}
    {% elif transform == 'string' %}
        {{ return('cast(' ~ column ~ ' as ' ~ dbt.type_string() ~ ')') }}
    {% elif transform == 'web_only' %}
        {{ return('case when ' ~ is_web ~ ' then nullif(' ~ column ~ ", '') end") }}
    {% elif transform == 'mobile_only' %}
        {{ return('case when ' ~ is_mobile ~ ' then nullif(' ~ column ~ ", '') end") }}
    {% elif transform == 'mobile_os' %}
        {{ return('case when ' ~ is_mobile ~ ' then case lower(' ~ column ~ ") when 'ios' then 'iOS' "
            ~ "when 'android' then 'Android' else nullif(" ~ column ~ ", '') end end") }}
    {% elif transform == 'device_class' %}
        {#- web: device_type is the OS; mobile: device_type is the model (an iPad is a tablet) -#}
        {{ return('case when ' ~ is_web ~ ' then case when ' ~ column ~ " in ('iOS', 'Android') then 'Mobile' "
            ~ 'when ' ~ column ~ " in ('Windows', 'Mac OS X', 'Mac OS', 'Linux', 'Ubuntu', 'Chrome OS') "
            ~ "then 'Desktop' end when " ~ is_mobile ~ ' then case when lower(' ~ column ~ ") like 'ipad%' "
            ~ "then 'Tablet' else 'Mobile' end end") }}
    {% else %}
        {{ exceptions.raise_compiler_error(
            "Unknown transform '" ~ transform ~ "' for " ~ column ~ " in amplitude_field_map. Use one of: value, "
            ~ "string, web_only, mobile_only, mobile_os, device_class, drop.") }}
    {% endif %}
{% endmacro %}


{#-
    Amplitude's `groups` ({"company": ["acct_8812"]}) as PostHog's `$groups` ({"company": "acct_8812"}): one key
    per group type; a user in several groups of a type keeps the first, as PostHog's own importer does.
-#}
{% macro amplitude_groups_json(groups_text) %}
    {{ return(adapter.dispatch('amplitude_groups_json', 'posthog_migrate')(groups_text)) }}
{% endmacro %}
{% macro default__amplitude_groups_json(groups_text) %}
    {{- posthog_migrate.unsupported_adapter('amplitude_groups_json') -}}
{% endmacro %}

{% macro duckdb__amplitude_groups_json(groups_text) -%}
    case when {{ groups_text }} is not null and {{ groups_text }} not in ('{}', 'null') then
        (select nullif({{ posthog_migrate.json_object_agg('entry.key', "coalesce(entry.value -> '$[0]', entry.value)") }}, '{}')
         from json_each({{ groups_text }}) as entry)
    end
{%- endmacro %}

{% macro snowflake__amplitude_groups_json(groups_text) -%}
    case when {{ groups_text }} is not null and {{ groups_text }} not in ('{}', 'null') then
        (select nullif(to_json(object_agg(entry.key, coalesce(entry.value[0], entry.value))), '{}')
         from table(flatten(input => parse_json({{ groups_text }}))) as entry)
    end
{%- endmacro %}

{% macro bigquery__amplitude_groups_json(groups_text) -%}
    {#- the subscript takes any key (a JSONPath built from it would break on quotes); '$[0]' is null off arrays -#}
    case when {{ groups_text }} is not null and {{ groups_text }} not in ('{}', 'null') then
        (select nullif({{ posthog_migrate.json_object_agg('entry_key', 'to_json_string(coalesce('
            ~ 'json_query(parse_json(' ~ groups_text ~ ")[entry_key], '$[0]'), "
            ~ 'parse_json(' ~ groups_text ~ ')[entry_key]))') }}, '{}')
         from unnest(json_keys(parse_json({{ groups_text }}), 1)) as entry_key)
    end
{%- endmacro %}
