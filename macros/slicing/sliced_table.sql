{#
    A table built one slice of time at a time, so a build's memory depends on the slice, not the history, a
    killed build resumes at its first unfinished slice, and `--event-time-start/--event-time-end` rebuilds a
    range in place. The result is the table a one-shot build of the same SQL gives.

    The model marks where it reads history with slice_filter / slice_before / slice_overlaps and names what to
    plan from in `slice_plan`: [[model, time column], ...]; `slice_time` is its own time column. A build:
      - full (default): the slices go into <model>__slicing, which replaces the table once every slice is in;
        each finished slice is written to the log <model>__slices, so a re-run (or `dbt retry`) of a build
        that stopped carries on where it stopped, unless the model's SQL changed;
      - range (--event-time-start/--event-time-end): the range's slices are deleted and rebuilt in the table;
      - --full-refresh: the table and its log are dropped first.
    DECISIONLOG: "Heavy models are built in time slices".
#}
{% materialization sliced_table, default %}
    {%- set time_column = config.require('slice_time') -%}
    {%- set plan_sources = config.require('slice_plan') -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set slicing_relation = api.Relation.create(
        database=this.database, schema=this.schema, identifier=this.identifier ~ '__slicing', type='table'
    ) -%}
    {%- set log_relation = api.Relation.create(
        database=this.database, schema=this.schema, identifier=this.identifier ~ '__slices', type='table'
    ) -%}
    {%- set sql_hash = local_md5(sql) -%}
    {%- set range = posthog_migrate.event_time_range() -%}
    {%- set grant_config = config.get('grants') -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {% if should_full_refresh() %}
        {{ drop_relation_if_exists(existing_relation) }}
        {% set existing_relation = none %}
        {{ drop_relation_if_exists(load_cached_relation(log_relation)) }}
    {% endif %}
    {% do posthog_migrate.create_slice_log(log_relation) %}
    {% set last_build = posthog_migrate.last_slice_build(log_relation) %}

    {% set published_hash = posthog_migrate.published_slice_build_hash(log_relation) %}
    {% if range is not none and existing_relation is not none and published_hash is not none %}
        {#- rebuild a range in place -#}
        {% if published_hash != sql_hash %}
            {{ exceptions.raise_compiler_error(
                this.identifier ~ " changed since its table was built: rebuilding only a range would mix the two "
                ~ "versions. Run the build without --event-time-start/--event-time-end first.") }}
        {% endif %}
        {% set build = {'id': invocation_id, 'kind': 'range', 'relation': target_relation} %}
        {% set planned = posthog_migrate.plan_slices(plan_sources, range.lower, range.upper) %}
        {% do posthog_migrate.log_planned_slices(log_relation, build.id, build.kind, sql_hash, planned) %}
        {% set slices = posthog_migrate.numbered(planned) %}
        {% set slice_count = slices | length %}
    {% elif last_build is not none and last_build.build_kind == 'full' and last_build.sql_hash == sql_hash
            and load_cached_relation(slicing_relation) is not none %}
        {#- resume the full build that stopped (if only its publishing was left, just that) -#}
        {% set build = {'id': last_build.build_id, 'kind': 'full', 'relation': slicing_relation} %}
        {% set slices = last_build.unfinished %}
        {% set slice_count = last_build.slice_count %}
        {{ log(this.identifier ~ ': resuming build ' ~ build.id ~ ', ' ~ (slices | length) ~ ' of '
               ~ slice_count ~ ' slices left', info=true) }}
    {% else %}
        {% if range is not none %}
            {{ log(this.identifier ~ ' does not exist yet: building all of it, not only the event time range.',
                   info=true) }}
        {% endif %}
        {% set build = {'id': invocation_id, 'kind': 'full', 'relation': slicing_relation} %}
        {{ drop_relation_if_exists(load_cached_relation(slicing_relation)) }}
        {% call statement('create_empty') -%}
            {{ get_create_table_as_sql(False, slicing_relation, posthog_migrate.sql_for_slice(sql, 'none')) }}
        {%- endcall %}
        {% set planned = posthog_migrate.plan_slices(plan_sources) %}
        {% do posthog_migrate.log_planned_slices(log_relation, build.id, build.kind, sql_hash, planned) %}
        {% set slices = posthog_migrate.numbered(planned) %}
        {% set slice_count = slices | length %}
    {% endif %}
    {% do adapter.commit() %}

    {% for slice in slices %}
        {% set bounds = posthog_migrate.slice_bounds(slice) %}
        {% set started = modules.datetime.datetime.now() %}
        {% call statement('main') -%}
            {{ posthog_migrate.replace_slice(build.relation, time_column, posthog_migrate.sql_for_slice(sql, bounds),
                                             bounds) }}
        {%- endcall %}
        {% do posthog_migrate.log_finished_slice(log_relation, build.id, slice.number) %}
        {% do adapter.commit() %}
        {{ log(this.identifier ~ ': slice ' ~ slice.number ~ ' of ' ~ slice_count ~ ' built, '
               ~ posthog_migrate.describe_slice(slice) ~ ', ' ~ slice.rows ~ ' source rows, in '
               ~ ((modules.datetime.datetime.now() - started).total_seconds() | round(1)) ~ 's', info=true) }}
    {% endfor %}

    {% if build.kind == 'full' %}
        {% do posthog_migrate.publish_sliced_table(slicing_relation, target_relation) %}
        {% do posthog_migrate.forget_other_slice_builds(log_relation, build.id) %}
    {% endif %}
    {% do posthog_migrate.refresh_table_statistics(target_relation) %}

    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {% set should_revoke = should_revoke(existing_relation, full_refresh_mode=(build.kind == 'full')) %}
    {% do apply_grants(target_relation, grant_config, should_revoke=should_revoke) %}
    {% do persist_docs(target_relation, model) %}
    {% do adapter.commit() %}
    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}


{#- Delete the slice's rows (a resumed slice may be half written) and insert it again, in one transaction
    where the warehouse has them. -#}
{% macro replace_slice(relation, time_column, slice_sql, bounds) %}
    delete from {{ relation }}
    where {{ posthog_migrate.sql_for_slice(posthog_migrate.slice_filter(time_column), bounds) }};
    insert into {{ relation }}
    {{ slice_sql }}
{% endmacro %}


{#- The finished build takes the table's place: readers saw the previous table until now. -#}
{% macro publish_sliced_table(slicing_relation, target_relation) %}
    {{ return(adapter.dispatch('publish_sliced_table', 'posthog_migrate')(slicing_relation, target_relation)) }}
{% endmacro %}

{% macro default__publish_sliced_table(slicing_relation, target_relation) %}
    {% set backup_relation = make_backup_relation(target_relation, 'table') %}
    {{ drop_relation_if_exists(load_cached_relation(backup_relation)) }}
    {% set existing_relation = load_cached_relation(target_relation) %}
    {% if existing_relation is not none %}
        {{ adapter.rename_relation(existing_relation, backup_relation) }}
    {% endif %}
    {{ adapter.rename_relation(slicing_relation, target_relation) }}
    {% do adapter.commit() %}
    {{ drop_relation_if_exists(backup_relation) }}
{% endmacro %}


{#-
    Where the planner reads table statistics only when asked (Redshift), collect them for the table a build just
    wrote in slices: the next model's slices join it, and without statistics a planner takes it for one row.
-#}
{% macro refresh_table_statistics(relation) %}
    {{ return(adapter.dispatch('refresh_table_statistics', 'posthog_migrate')(relation)) }}
{% endmacro %}

{% macro default__refresh_table_statistics(relation) %}
{% endmacro %}

{% macro redshift__refresh_table_statistics(relation) %}
    {% do run_query('analyze ' ~ relation) %}
{% endmacro %}


{#- --event-time-start/--event-time-end as slice bounds, or none when not given. -#}
{% macro event_time_range() %}
    {% set start = invocation_args_dict.get('event_time_start') %}
    {% set end = invocation_args_dict.get('event_time_end') %}
    {% if start is none or end is none %}
        {{ return(none) }}
    {% endif %}
    {{ return({'lower': posthog_migrate._utc_text(start), 'upper': posthog_migrate._utc_text(end)}) }}
{% endmacro %}

{% macro _utc_text(value) %}
    {% if value is string %}
        {% set value = modules.datetime.datetime.fromisoformat(value) %}
    {% endif %}
    {% if value.tzinfo is not none %}
        {% set value = value.astimezone(modules.pytz.utc).replace(tzinfo=none) %}
    {% endif %}
    {{ return(value.strftime('%Y-%m-%d %H:%M:%S')) }}
{% endmacro %}

{% macro numbered(slices) %}
    {% set numbered_slices = [] %}
    {% for slice in slices %}
        {% set numbered_slice = {'number': loop.index} %}
        {% do numbered_slice.update(slice) %}
        {% do numbered_slices.append(numbered_slice) %}
    {% endfor %}
    {{ return(numbered_slices) }}
{% endmacro %}
