{#-
    A mapping seed's rows, read at compile time (DECISIONLOG: The mapping seeds are read when a model compiles).
    Models read them through the accessors in mapping_seeds.sql, which unit tests stub with `overrides: macros:`.
-#}
{% macro mapping_rows(seed_name) %}
    {% if not execute %}
        {{ return([]) }}
    {% endif %}
    {% if graph.nodes is not defined %}
        {#- a dbt unit test: ref() names a fixture CTE, which a query run at compile time cannot read -#}
        {{ exceptions.raise_compiler_error(
            "This unit test's model reads the " ~ seed_name ~ " seed when it compiles, which a fixture cannot "
            ~ "stand in for. Stub it: overrides: {macros: {posthog_migrate." ~ seed_name ~ "_rows: [<rows>]}}.") }}
    {% endif %}
    {#- ordered, so generated SQL (and the order of keys it writes) never depends on a scan order -#}
    {% set result = run_query('select * from ' ~ ref(seed_name) ~ ' order by 1, 2') %}
    {% set names = result.column_names | map('lower') | list %}
    {% set rows = [] %}
    {% for row in result.rows %}
        {% set item = {} %}
        {% for name in names %}
            {% do item.update({name: row[loop.index0]}) %}
        {% endfor %}
        {% do rows.append(item) %}
    {% endfor %}
    {{ return(rows) }}
{% endmacro %}


{#-
    What each column of a relation becomes: one {column, rule, origin} per mapping rule. The mapping rows whose
    `key_column` names a column decide (origin `seed`; several rows may map one column, as platform becomes $os and
    $os_version); a column no row names is decided by `default_rule` (origin `default`). Drops included.
-#}
{% macro column_rules(columns_by_name, mapping, key_column, default_rule) %}
    {% set decided = [] %}
    {% for name, column in columns_by_name.items() %}
        {% set rules = mapping | selectattr(key_column, 'equalto', name) | list %}
        {% set origin = 'seed' if rules else 'default' %}
        {% for rule in rules or [default_rule(name, column)] %}
            {% do decided.append({'column': column, 'rule': rule, 'origin': origin}) %}
        {% endfor %}
    {% endfor %}
    {{ return(decided) }}
{% endmacro %}


{#-
    Properties built from a relation's columns, as [property, value_sql, rule] triples, per column_rules (drops
    left out). String values listed in `null_strings` count as missing.
-#}
{% macro mapped_property_pairs(columns_by_name, mapping, key_column, default_rule, null_strings=[]) %}
    {% set pairs = [] %}
    {% for decided in posthog_migrate.column_rules(columns_by_name, mapping, key_column, default_rule)
        if decided.rule['transform'] != 'drop' %}
        {% set column = decided.column %}
        {% set rule = decided.rule %}
        {% set ns = namespace(column_sql=adapter.quote(column.name)) %}
        {% if column.is_string() %}
            {% for null_string in null_strings %}
                {% set ns.column_sql = 'nullif(' ~ ns.column_sql ~ ', ' ~ posthog_migrate.sql_string(null_string) ~ ')' %}
            {% endfor %}
        {% endif %}
        {% if rule['posthog_property'] in pairs | map(attribute=0) | list %}
            {{ exceptions.raise_compiler_error(
                "Two columns map to the property '" ~ rule['posthog_property'] ~ "' (the second is "
                ~ column.name ~ "). Change one of them in the mapping seed.") }}
        {% endif %}
        {% do pairs.append([
            rule['posthog_property'],
            posthog_migrate.property_value(ns.column_sql, column, rule['transform']),
            rule,
        ]) %}
    {% endfor %}
    {{ return(pairs) }}
{% endmacro %}


{#- The properties whose mapping rule has `field` equal to `value`. -#}
{% macro pairs_where(pairs, field, value) %}
    {% set selected = [] %}
    {% for pair in pairs if pair[2][field] == value %}
        {% do selected.append(pair) %}
    {% endfor %}
    {{ return(selected) }}
{% endmacro %}


{#- How a column's value becomes a property value; `transform` comes from a mapping seed. -#}
{% macro property_value(column_sql, column, transform) %}
    {% set data_type = column.dtype | lower %}
    {% if transform == 'value' %}
        {% if 'timestamp' in data_type or 'datetime' in data_type %}
            {{ return(posthog_migrate.iso8601_utc(column_sql)) }}
        {% elif data_type == 'date' %}
            {{ return('cast(' ~ column_sql ~ ' as ' ~ dbt.type_string() ~ ')') }}
        {% elif column.is_float() %}
            {{ return(posthog_migrate.finite_or_null(column_sql)) }}
        {% else %}
            {{ return(column_sql) }}
        {% endif %}
    {% elif transform == 'string' %}
        {{ return('cast(' ~ column_sql ~ ' as ' ~ dbt.type_string() ~ ')') }}
    {% elif transform == 'os_name' %}
        {{ return(posthog_migrate.platform_os_name(column_sql)) }}
    {% elif transform == 'os_version' %}
        {{ return(posthog_migrate.platform_os_version(column_sql)) }}
    {% elif transform == 'url' %}
        {{ return(posthog_migrate.url_from_parts(column_sql, 'null', 'null', 'null')) }}
    {% else %}
        {{ exceptions.raise_compiler_error(
            "Unknown transform '" ~ transform ~ "' for column " ~ column.name ~ " in a mapping seed. "
            ~ "Use one of: value, string, os_name, os_version, url, drop.") }}
    {% endif %}
{% endmacro %}


{#- Heap ids are integers above 2^53: as JSON numbers they would lose digits, so they travel as strings. -#}
{% macro is_id_column(name, column) %}
    {{ return(posthog_migrate.is_integer_column(column) and (name == 'id' or name.endswith('_id'))) }}
{% endmacro %}


{#- Snowflake has no integer types, only NUMBER(p, 0), which dbt-snowflake never calls an integer. -#}
{% macro is_integer_column(column) %}
    {{ return(column.is_integer() or (column.is_numeric() and column.numeric_scale is not none
        and column.numeric_scale | int == 0)) }}
{% endmacro %}


{#- Heap event columns no mapping row names keep their own name; integer ids become strings. -#}
{% macro heap_default_property_rule(name, column) %}
    {{ return({
        'posthog_property': name,
        'transform': 'string' if posthog_migrate.is_id_column(name, column) else 'value',
    }) }}
{% endmacro %}


{#- Heap user columns no mapping row names: initial_* go to $set_once as $initial_*, the rest to $set. -#}
{% macro heap_default_person_rule(name, column) %}
    {% if name.startswith('initial_') %}
        {{ return({'posthog_property': '$' ~ name, 'set_mode': 'set_once', 'transform': 'value'}) }}
    {% endif %}
    {{ return({
        'posthog_property': name,
        'set_mode': 'set',
        'transform': 'string' if posthog_migrate.is_id_column(name, column) else 'value',
    }) }}
{% endmacro %}
