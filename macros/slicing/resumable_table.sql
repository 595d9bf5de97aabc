{#
    A table that a resumed build keeps. The whole-history tables (who each user finally is, when each session
    started, which events were delivered twice, ...) are built before the sliced models; when a build is killed
    in its slices, the next `dbt build` resumes those slices (sliced_table), and rebuilding these tables first
    would repeat a large share of the killed build's work. So each build of the table is logged in
    <model>__builds, and the table is kept as is when the build that wrote it is a sliced build being resumed
    and the model's SQL has not changed. Otherwise, and with --full-refresh, it is the adapter's own `table`.
    DECISIONLOG: "A resumed build keeps its whole-history tables".
#}
{% materialization resumable_table, default %}
    {%- set log_relation = api.Relation.create(
        database=this.database, schema=this.schema, identifier=this.identifier ~ '__builds', type='table'
    ) -%}
    {%- set sql_hash = local_md5(sql) -%}
    {% do posthog_migrate.create_table_build_log(log_relation) %}
    {% set resumed_build = none %}
    {% if not should_full_refresh() and load_cached_relation(this) is not none %}
        {% set resumed_build = posthog_migrate.resumed_build_of(log_relation, sql_hash) %}
    {% endif %}

    {% if resumed_build is not none %}
        {{ log(this.identifier ~ ': kept as build ' ~ resumed_build ~ ' wrote it; that build is being resumed',
               info=true) }}
        {% call statement('main') -%}
            select count(*) as kept_rows from {{ this }}
        {%- endcall %}
        {{ return({'relations': [this.incorporate(type='table')]}) }}
    {% endif %}

    {#- dbt's own way to reuse another materialization (its clone materialization does the same) -#}
    {% set search_name = 'materialization_table_' ~ adapter.type() %}
    {% if search_name not in context %}
        {% set search_name = 'materialization_table_default' %}
    {% endif %}
    {% set relations = context[search_name]() %}
    {% do posthog_migrate.log_table_build(log_relation, invocation_id, sql_hash) %}
    {% do adapter.commit() %}
    {{ return(relations) }}
{% endmaterialization %}


{#- One row: the invocation that last built the table, and the hash of the SQL it ran. -#}
{% macro create_table_build_log(log_relation) %}
    {% call statement('create_table_build_log') %}
        create table if not exists {{ log_relation }} (
            build_id {{ dbt.type_string() }},
            sql_hash {{ dbt.type_string() }},
            built_at {{ dbt.type_timestamp() }}
        )
    {% endcall %}
{% endmacro %}

{% macro log_table_build(log_relation, build_id, sql_hash) %}
    {% call statement('log_table_build') %}
        delete from {{ log_relation }} where true;
        insert into {{ log_relation }}
        select {{ posthog_migrate.sql_string(build_id) }}, {{ posthog_migrate.sql_string(sql_hash) }},
            {{ posthog_migrate.slice_log_now() }}
    {% endcall %}
{% endmacro %}


{#-
    The id of the build that wrote the table, when that build is a full sliced build left unfinished (its
    <model>__slicing table still there), which this invocation resumes, and the table's SQL is unchanged;
    otherwise none.
-#}
{% macro resumed_build_of(log_relation, sql_hash) %}
    {% set logged = run_query('select build_id, sql_hash from ' ~ log_relation) %}
    {% if logged.rows | length != 1 or logged.rows[0][1] != sql_hash %}
        {{ return(none) }}
    {% endif %}
    {% set build_id = logged.rows[0][0] %}
    {% for node in graph.nodes.values()
           if node.resource_type == 'model' and node.config.materialized == 'sliced_table' %}
        {% set slicing = adapter.get_relation(node.database, node.schema, node.alias ~ '__slicing') %}
        {% set slice_log = adapter.get_relation(node.database, node.schema, node.alias ~ '__slices') %}
        {% if slicing is not none and slice_log is not none %}
            {% set last_build = posthog_migrate.last_slice_build(slice_log) %}
            {% if last_build is not none and last_build.build_kind == 'full' and last_build.build_id == build_id %}
                {{ return(build_id) }}
            {% endif %}
        {% endif %}
    {% endfor %}
    {{ return(none) }}
{% endmacro %}
