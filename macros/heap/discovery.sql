{#-
    Every table in the Heap schema is an event table except heap_non_event_tables, names starting with '_' and
    BigQuery's `<table>_raw` twins (DECISIONLOG: Heap event tables are discovered, not listed).
-#}
{% macro heap_database() %}
    {{ return(target.database if posthog_migrate.heap_reads_files() else var('heap_database') or target.database) }}
{% endmacro %}

{#- Where Heap's tables are: Heap Connect's schema, or the schema a file route lands them in (heap_landing_schema). -#}
{% macro heap_schema() %}
    {% if posthog_migrate.heap_reads_files() %}
        {{ return(var('heap_landing_schema') or target.schema ~ '_heap_landing') }}
    {% endif %}
    {{ return(var('heap_schema')) }}
{% endmacro %}

{#- Heap from files (Heap Connect's S3 dumps, or a one-time export) instead of a warehouse schema. -#}
{% macro heap_reads_files() %}
    {{ return(var('heap_s3_path') not in (none, '') or var('heap_files_path') not in (none, '')) }}
{% endmacro %}

{% macro heap_event_relations() %}
    {% if not execute %}
        {{ return([]) }}
    {% endif %}
    {% set database = posthog_migrate.heap_database() %}
    {% set schema = posthog_migrate.heap_schema() %}
    {% set table_names = posthog_migrate.list_table_names(database, schema) %}
    {% if table_names | length == 0 %}
        {{ exceptions.raise_compiler_error(
            "Found no Heap tables in " ~ database ~ "." ~ schema ~ ". "
            ~ ("The files under heap_s3_path / heap_files_path hold no Heap table."
               if posthog_migrate.heap_reads_files() else
               "Point the vars heap_database and heap_schema at the schema Heap Connect syncs into "
               ~ "(or set heap_enabled: false).")
        ) }}
    {% endif %}
    {% set lower_names = table_names | map('lower') | list %}
    {% set non_event_tables = var('heap_non_event_tables') | map('lower') | list %}
    {% set relations = [] %}
    {% for name in table_names | sort(case_sensitive=false) %}
        {% set lower_name = name | lower %}
        {% set is_raw_twin = lower_name.endswith('_raw') and lower_name[:-4] in lower_names %}
        {% if lower_name not in non_event_tables and not lower_name.startswith('_') and not is_raw_twin %}
            {#- quoted: the name is spelled as the warehouse stores it, whatever its case -#}
            {% do relations.append(
                api.Relation.create(database=database, schema=schema, identifier=name).quote(identifier=true)
            ) %}
        {% endif %}
    {% endfor %}
    {{ return(relations) }}
{% endmacro %}


{#- Names of the tables and views in a schema, as the warehouse spells them. -#}
{% macro list_table_names(database, schema) %}
    {% set result = run_query(adapter.dispatch('list_table_names_sql', 'posthog_migrate')(database, schema)) %}
    {{ return(result.columns[0].values() | list) }}
{% endmacro %}

{% macro default__list_table_names_sql(database, schema) %}
    {{- posthog_migrate.unsupported_adapter('list_table_names_sql') -}}
{% endmacro %}

{% macro duckdb__list_table_names_sql(database, schema) %}
    select table_name
    from information_schema.tables
    where lower(table_catalog) = lower({{ posthog_migrate.sql_string(database) }})
        and lower(table_schema) = lower({{ posthog_migrate.sql_string(schema) }})
{% endmacro %}

{% macro snowflake__list_table_names_sql(database, schema) %}
    select table_name
    from {{ database }}.information_schema.tables
    where lower(table_schema) = lower({{ posthog_migrate.sql_string(schema) }})
{% endmacro %}

{#- the information schema, as on DuckDB; Redshift's lists only the connected database: Heap's must be it -#}
{% macro redshift__list_table_names_sql(database, schema) %}
    {{ return(posthog_migrate.duckdb__list_table_names_sql(database, schema)) }}
{% endmacro %}

{% macro bigquery__list_table_names_sql(database, schema) %}
    select table_name
    from `{{ database }}`.`{{ schema }}`.INFORMATION_SCHEMA.TABLES
{% endmacro %}

{#- A CTE name for a Heap table: its name when that is a plain identifier, else made one (and kept unique). -#}
{% macro heap_table_cte(relation) %}
    {% set name = relation.identifier | lower %}
    {% set plain = modules.re.sub('[^0-9a-z_]', '_', name) %}
    {{ return('events_from_' ~ (plain if plain == name else plain ~ '_' ~ local_md5(name)[:8])) }}
{% endmacro %}
