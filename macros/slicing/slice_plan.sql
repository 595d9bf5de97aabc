{#
    Planning a sliced_table build and recording how far it got. DECISIONLOG: "Heavy models are built in time
    slices".
#}

{#-
    Consecutive slices of whole UTC days holding at most var('posthog_slice_rows') source rows each (a day
    holding more is a slice of its own), counted in the relations of the model's `slice_plan` config
    ([model, time column] pairs). The first and last slices are open-ended, so every time falls in one, and
    an `untimed` slice takes the rows without a time. With `lower`/`upper` (an --event-time-start/end range),
    only that range is planned.
-#}
{% macro plan_slices(sources, lower=none, upper=none) %}
    {% set counts = [] %}
    {% for source in sources %}
        {% set time_column = source[1] %}
        {% set range_conditions = [] %}
        {% if lower is not none %}
            {% do range_conditions.append(time_column ~ ' >= ' ~ posthog_migrate.slice_timestamp(lower)) %}
            {% do range_conditions.append(time_column ~ ' < ' ~ posthog_migrate.slice_timestamp(upper)) %}
        {% endif %}
        {% do counts.append(
            'select ' ~ dbt.date_trunc('day', time_column) ~ ' as slice_day, count(*) as row_count from '
            ~ ref(source[0]) ~ (' where ' ~ range_conditions | join(' and ') if range_conditions else '')
            ~ ' group by 1'
        ) %}
    {% endfor %}
    {% set days = run_query(
        'select slice_day, sum(row_count) as row_count from (' ~ counts | join(' union all ') ~ ') as counted'
        ~ ' group by slice_day order by slice_day'
    ) %}
    {% set budget = posthog_migrate.slice_row_budget() %}
    {% set slices = [] %}
    {% set current = namespace(lower=lower, rows=0, untimed_rows=0) %}
    {% for day, row_count in days.rows %}
        {% if day is none %}
            {% set current.untimed_rows = row_count | int %}
        {% else %}
            {% set day_text = day.strftime('%Y-%m-%d %H:%M:%S') %}
            {% if current.rows > 0 and current.rows + row_count | int > budget %}
                {% do slices.append({'lower': current.lower, 'upper': day_text, 'rows': current.rows,
                                     'untimed': false}) %}
                {% set current.lower = day_text %}
                {% set current.rows = 0 %}
            {% endif %}
            {% set current.rows = current.rows + row_count | int %}
        {% endif %}
    {% endfor %}
    {% do slices.append({'lower': current.lower, 'upper': upper, 'rows': current.rows, 'untimed': false}) %}
    {% if lower is none %}
        {% do slices.append({'lower': none, 'upper': none, 'rows': current.untimed_rows, 'untimed': true}) %}
    {% endif %}
    {{ return(slices) }}
{% endmacro %}


{#- var('posthog_slice_rows'), or the warehouse's default when it is null -#}
{% macro slice_row_budget() %}
    {% set rows = var('posthog_slice_rows') %}
    {% if rows is none %}
        {{ return(5000000 if target.type == 'duckdb' else 100000000) }}
    {% endif %}
    {{ return(rows | int) }}
{% endmacro %}


{#- A slice bound (text 'YYYY-MM-DD HH:MM:SS', UTC) as a timestamp the models' time columns compare with. -#}
{% macro slice_timestamp(text) -%}
    cast('{{ text }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}


{#- A slice with its bounds as SQL timestamps, as sql_for_slice takes it. -#}
{% macro slice_bounds(slice) %}
    {{ return({
        'lower': none if slice.lower is none else posthog_migrate.slice_timestamp(slice.lower),
        'upper': none if slice.upper is none else posthog_migrate.slice_timestamp(slice.upper),
        'untimed': slice.untimed,
    }) }}
{% endmacro %}


{% macro describe_slice(slice) %}
    {% if slice.untimed %}
        {{ return('rows without a time') }}
    {% endif %}
    {{ return('[' ~ (slice.lower or 'start') ~ ', ' ~ (slice.upper or 'end') ~ ')') }}
{% endmacro %}


{#- The log of a sliced table's builds: one row per planned slice, finished_at set when it is built. -#}
{% macro create_slice_log(log_relation) %}
    {% call statement('create_slice_log') %}
        create table if not exists {{ log_relation }} (
            build_id {{ dbt.type_string() }},
            build_kind {{ dbt.type_string() }},
            sql_hash {{ dbt.type_string() }},
            planned_at {{ dbt.type_timestamp() }},
            slice_number {{ dbt.type_int() }},
            lower_bound {{ dbt.type_string() }},
            upper_bound {{ dbt.type_string() }},
            untimed {{ dbt.type_boolean() }},
            planned_rows {{ dbt.type_bigint() }},
            finished_at {{ dbt.type_timestamp() }}
        )
    {% endcall %}
{% endmacro %}

{% macro log_planned_slices(log_relation, build_id, build_kind, sql_hash, slices) %}
    {% set rows = [] %}
    {% for slice in slices %}
        {% do rows.append(
            'select ' ~ posthog_migrate.sql_string(build_id) ~ ', ' ~ posthog_migrate.sql_string(build_kind)
            ~ ', ' ~ posthog_migrate.sql_string(sql_hash) ~ ', ' ~ posthog_migrate.slice_log_now() ~ ', '
            ~ loop.index ~ ', ' ~ posthog_migrate.sql_string_or_null(slice.lower) ~ ', '
            ~ posthog_migrate.sql_string_or_null(slice.upper) ~ ', ' ~ ('true' if slice.untimed else 'false')
            ~ ', ' ~ slice.rows ~ ', cast(null as ' ~ dbt.type_timestamp() ~ ')'
        ) %}
    {% endfor %}
    {% call statement('log_planned_slices') %}
        insert into {{ log_relation }} {{ rows | join(' union all ') }}
    {% endcall %}
{% endmacro %}

{% macro log_finished_slice(log_relation, build_id, slice_number) %}
    {% call statement('log_finished_slice') %}
        update {{ log_relation }} set finished_at = {{ posthog_migrate.slice_log_now() }}
        where build_id = {{ posthog_migrate.sql_string(build_id) }} and slice_number = {{ slice_number }}
    {% endcall %}
{% endmacro %}

{#- The newest build in the log, with its unfinished slices in order (none when the log is empty). -#}
{% macro last_slice_build(log_relation) %}
    {% set builds = run_query(
        'select build_id, build_kind, sql_hash from ' ~ log_relation
        ~ ' order by planned_at desc, build_id desc limit 1'
    ) %}
    {% if builds.rows | length == 0 %}
        {{ return(none) }}
    {% endif %}
    {% set build_id = builds.rows[0][0] %}
    {% set unfinished = run_query(
        'select slice_number, lower_bound, upper_bound, untimed, planned_rows from ' ~ log_relation
        ~ ' where build_id = ' ~ posthog_migrate.sql_string(build_id) ~ ' and finished_at is null'
        ~ ' order by slice_number'
    ) %}
    {% set slices = [] %}
    {% for number, lower, upper, untimed, planned_rows in unfinished.rows %}
        {% do slices.append({'number': number | int, 'lower': lower, 'upper': upper, 'untimed': untimed,
                             'rows': planned_rows | int}) %}
    {% endfor %}
    {% set total = run_query(
        'select count(*) from ' ~ log_relation ~ ' where build_id = ' ~ posthog_migrate.sql_string(build_id)
    ) %}
    {{ return({'build_id': build_id, 'build_kind': builds.rows[0][1], 'sql_hash': builds.rows[0][2],
               'unfinished': slices, 'slice_count': total.rows[0][0] | int}) }}
{% endmacro %}

{#- The SQL hash of the last full build that finished: the one the table holds (none if the log has none). -#}
{% macro published_slice_build_hash(log_relation) %}
    {% set builds = run_query(
        'select sql_hash from ' ~ log_relation ~ " where build_kind = 'full'"
        ~ ' group by build_id, sql_hash having count(finished_at) = count(*)'
        ~ ' order by max(planned_at) desc limit 1'
    ) %}
    {{ return(builds.rows[0][0] if builds.rows | length > 0 else none) }}
{% endmacro %}

{#- Keep only `build_id`'s rows: older builds are history nobody resumes. -#}
{% macro forget_other_slice_builds(log_relation, build_id) %}
    {% call statement('forget_other_slice_builds') %}
        delete from {{ log_relation }} where build_id != {{ posthog_migrate.sql_string(build_id) }}
    {% endcall %}
{% endmacro %}

{% macro slice_log_now() -%}
    cast({{ dbt.current_timestamp() }} as {{ dbt.type_timestamp() }})
{%- endmacro %}

{% macro sql_string_or_null(value) -%}
    {{ 'null' if value is none else posthog_migrate.sql_string(value) }}
{%- endmacro %}
