{#
    Where a sliced_table model reads history, these mark the conditions that bound it to one slice of time.
    Compiled on their own (`dbt compile`, `dbt show`, unit tests) they select the whole history, so the model
    reads as an ordinary one; the sliced_table materialization swaps in each slice's bounds as it builds.
    DECISIONLOG: "Heavy models are built in time slices".
#}

{#- Rows of the slice: `time_column` within its bounds (the untimed slice: rows without a time). -#}
{% macro slice_filter(time_column) -%}
    {{ posthog_migrate._slice_marker('filter', [time_column], 'true') }}
{%- endmacro %}

{#- True when `time_column` (another row's time) falls before the slice: what an earlier slice holds. -#}
{% macro slice_before(time_column) -%}
    {{ posthog_migrate._slice_marker('before', [time_column], 'false') }}
{%- endmacro %}

{#- Rows spanning [first_column, last_column] that reach into the slice (a session, for its events). -#}
{% macro slice_overlaps(first_column, last_column) -%}
    {{ posthog_migrate._slice_marker('overlaps', [first_column, last_column], 'true') }}
{%- endmacro %}

{% macro _slice_marker(kind, columns, whole_history) -%}
    /*posthog_migrate.slice:{{ kind }}({{ columns | join(',') }})*/ ({{ whole_history }}) /*/posthog_migrate.slice*/
{%- endmacro %}


{#-
    `sql` with every slice marker replaced by its condition for `slice`: a dict with `lower` and `upper` (SQL
    timestamps, none where the slice is open) and `untimed`; or the string 'none' for a query that selects
    nothing (to create the empty table).
-#}
{% macro sql_for_slice(sql, slice) %}
    {% set marker = modules.re.compile(
        '/\\*posthog_migrate\\.slice:(\\w+)\\(([^)]*)\\)\\*/.*?/\\*/posthog_migrate\\.slice\\*/', modules.re.DOTALL
    ) %}
    {% set built = namespace(text='', position=0) %}
    {% for found in marker.finditer(sql) %}
        {% set condition = posthog_migrate._slice_condition(found.group(1), found.group(2).split(','), slice) %}
        {% set built.text = built.text ~ sql[built.position:found.start()] ~ '(' ~ condition ~ ')' %}
        {% set built.position = found.end() %}
    {% endfor %}
    {{ return(built.text ~ sql[built.position:]) }}
{% endmacro %}

{% macro _slice_condition(kind, columns, slice) %}
    {% if slice == 'none' %}
        {{ return('false') }}
    {% endif %}
    {% set column = columns[0] %}
    {% set conditions = [] %}
    {% if kind == 'filter' %}
        {% if slice.untimed %}
            {{ return(column ~ ' is null') }}
        {% endif %}
        {% do conditions.append(column ~ ' is not null') %}
        {% if slice.lower is not none %}{% do conditions.append(column ~ ' >= ' ~ slice.lower) %}{% endif %}
        {% if slice.upper is not none %}{% do conditions.append(column ~ ' < ' ~ slice.upper) %}{% endif %}
    {% elif kind == 'before' %}
        {% if slice.untimed %}
            {{ return(column ~ ' is not null') }}
        {% endif %}
        {% do conditions.append(column ~ ' < ' ~ slice.lower if slice.lower is not none else 'false') %}
    {% elif kind == 'overlaps' %}
        {% if not slice.untimed %}
            {% if slice.upper is not none %}{% do conditions.append(column ~ ' < ' ~ slice.upper) %}{% endif %}
            {% if slice.lower is not none %}{% do conditions.append(columns[1] ~ ' >= ' ~ slice.lower) %}{% endif %}
        {% endif %}
    {% else %}
        {{ exceptions.raise_compiler_error("Unknown slice marker '" ~ kind ~ "'.") }}
    {% endif %}
    {{ return(conditions | join(' and ') if conditions else 'true') }}
{% endmacro %}
