{#-
    Every table of the Heap schema gets a role (events, persons, identity, event index, sync metadata, raw twin,
    not events) and a row in posthog_reconciliation; `_`-prefixed names are event tables unless Heap's own
    bookkeeping, and a `<name>_raw` is skipped only under a view `<name>` (DECISIONLOG: Every table of the Heap
    schema has a reconciliation row). Names compare case-insensitively (Snowflake stores them upper case).
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

{#- Every table and view of the Heap schema: [{name, relation, is_view, role, note}], sorted by name. -#}
{% macro heap_source_tables() %}
    {% if not execute %}
        {{ return([]) }}
    {% endif %}
    {% set database = posthog_migrate.heap_database() %}
    {% set schema = posthog_migrate.heap_schema() %}
    {% set listed = posthog_migrate.list_tables(database, schema) %}
    {% if listed | length == 0 %}
        {{ exceptions.raise_compiler_error(
            "Found no Heap tables in " ~ database ~ "." ~ schema ~ ". "
            ~ ("The files under heap_s3_path / heap_files_path hold no Heap table."
               if posthog_migrate.heap_reads_files() else
               "Point the vars heap_database and heap_schema at the schema Heap Connect syncs into "
               ~ "(or set heap_enabled: false).")
        ) }}
    {% endif %}
    {% set views = [] %}
    {% set seen = {} %}
    {% for name, is_view in listed %}
        {% if name | lower in seen %}
            {{ exceptions.raise_compiler_error(
                "The Heap schema " ~ database ~ "." ~ schema ~ " holds both " ~ seen[name | lower] ~ " and " ~ name
                ~ ": table names that differ only in case cannot be told apart. Rename or drop one of them."
            ) }}
        {% endif %}
        {% do seen.update({name | lower: name}) %}
        {% if is_view %}{% do views.append(name | lower) %}{% endif %}
    {% endfor %}
    {% set non_event_tables = var('heap_non_event_tables') | map('lower') | list %}
    {% set metadata_tables = var('heap_metadata_tables') | map('lower') | list %}
    {% set tables = [] %}
    {% for name, is_view in listed | sort(attribute=0, case_sensitive=false) %}
        {% set role, note = posthog_migrate.heap_table_role(name | lower, non_event_tables, metadata_tables, views) %}
        {#- quoted: the name is spelled as the warehouse stores it, whatever its case -#}
        {% do tables.append({
            'name': name,
            'relation': api.Relation.create(database=database, schema=schema, identifier=name).quote(identifier=true),
            'is_view': is_view,
            'role': role,
            'note': note,
        }) %}
    {% endfor %}
    {{ return(tables) }}
{% endmacro %}

{#- What a Heap table is for, and a note saying how it is handled: (role, note). -#}
{% macro heap_table_role(name, non_event_tables, metadata_tables, views) %}
    {% set known = {
        'users': ('persons', 'each row becomes a person (posthog_persons)'),
        'user_migrations': ('identity', 'each row merges a user into another (posthog_aliases)'),
        'all_events': ('event index', "lists the event tables' rows again, without properties: not read"),
    } %}
    {% if name in non_event_tables %}
        {{ return(known.get(name, ('not events', 'listed in var heap_non_event_tables: not read'))) }}
    {% elif name in metadata_tables %}
        {{ return(('sync metadata', "Heap Connect's own bookkeeping (var heap_metadata_tables): not read")) }}
    {% elif name == '_posthog_landed_files' and posthog_migrate.heap_reads_files() %}
        {#- posthog_migrate_files.landing.LEDGER_TABLE -#}
        {{ return(('landing ledger', 'the files heap_s3_path / heap_files_path landed here: not read')) }}
    {% elif name.endswith('_raw') and name[:-4] in views %}
        {{ return(('raw twin', "the table under Heap's view " ~ name[:-4] ~ ", which deduplicates it and is read "
            ~ "instead")) }}
    {% endif %}
    {{ return(('events', 'each row becomes an event (posthog_events), as heap_event_map says')) }}
{% endmacro %}

{#- The tables whose rows are events. -#}
{% macro heap_event_tables() %}
    {{ return(posthog_migrate.heap_source_tables() | selectattr('role', 'equalto', 'events') | list) }}
{% endmacro %}


{#- The tables and views of a schema as (name as the warehouse spells it, whether it is a view). -#}
{% macro list_tables(database, schema) %}
    {% set result = run_query(adapter.dispatch('list_tables_sql', 'posthog_migrate')(database, schema)) %}
    {% set tables = [] %}
    {% for row in result.rows %}
        {% do tables.append((row[0], 'VIEW' in (row[1] or '') | upper)) %}
    {% endfor %}
    {{ return(tables) }}
{% endmacro %}

{% macro default__list_tables_sql(database, schema) %}
    {{- posthog_migrate.unsupported_adapter('list_tables_sql') -}}
{% endmacro %}

{% macro duckdb__list_tables_sql(database, schema) %}
    select table_name, table_type
    from information_schema.tables
    where lower(table_catalog) = lower({{ posthog_migrate.sql_string(database) }})
        and lower(table_schema) = lower({{ posthog_migrate.sql_string(schema) }})
{% endmacro %}

{% macro snowflake__list_tables_sql(database, schema) %}
    select table_name, table_type
    from {{ database }}.information_schema.tables
    where lower(table_schema) = lower({{ posthog_migrate.sql_string(schema) }})
{% endmacro %}

{#- the information schema, as on DuckDB; Redshift's lists only the connected database: Heap's must be it -#}
{% macro redshift__list_tables_sql(database, schema) %}
    {{ return(posthog_migrate.duckdb__list_tables_sql(database, schema)) }}
{% endmacro %}

{% macro bigquery__list_tables_sql(database, schema) %}
    select table_name, table_type
    from `{{ database }}`.`{{ schema }}`.INFORMATION_SCHEMA.TABLES
{% endmacro %}

{#- A CTE name for a Heap table: its name when that is a plain identifier, else made one (and kept unique). -#}
{% macro heap_table_cte(table_name) %}
    {% set name = table_name | lower %}
    {% set plain = modules.re.sub('[^0-9a-z_]', '_', name) %}
    {{ return('events_from_' ~ (plain if plain == name else plain ~ '_' ~ local_md5(name)[:8])) }}
{% endmacro %}
