{#
    Rebuild a URL from Heap's parts. Heap is inconsistent about prefixes: a domain may or may not carry a scheme,
    a query may or may not start with '?', a hash with '#', a path with '/'.
#}
{% macro url_from_parts(host, path, query, hash) -%}
    case when nullif({{ host }}, '') is not null then
        case
            when lower({{ host }}) like 'http://%' or lower({{ host }}) like 'https://%' then {{ host }}
            else 'https://' || {{ host }}
        end
        || {{ posthog_migrate._url_part(path, '/') }}
        || {{ posthog_migrate._url_part(query, '?') }}
        || {{ posthog_migrate._url_part(hash, '#') }}
    end
{%- endmacro %}

{% macro _url_part(expr, prefix) -%}
    case
        when {{ expr }} is null or {{ expr }} = '' then ''
        when substr({{ expr }}, 1, 1) = '{{ prefix }}' then {{ expr }}
        else '{{ prefix }}' || {{ expr }}
    end
{%- endmacro %}
