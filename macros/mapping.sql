{#- A mapping seed's rows, read at compile time (DECISIONLOG: The mapping seeds are read when a model compiles). -#}
{% macro mapping_rows(seed_name) %}
    {% if not execute %}
        {{ return([]) }}
    {% endif %}
    {% if graph.nodes is defined %}
        {% set relation = ref(seed_name) %}
    {% else %}
        {#- a dbt unit test: there ref() names a fixture CTE, which a query run at compile time cannot read, so
            unit tests expand the project's real mapping seed, which `dbt build` loaded into the target schema -#}
        {% set relation = api.Relation.create(database=target.database, schema=target.schema, identifier=seed_name) %}
    {% endif %}
    {% set result = run_query('select * from ' ~ relation) %}
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
    Properties built from a relation's columns, as [property, value_sql, rule] triples. For each column, the
    mapping rows whose `key_column` names it decide the PostHog property and transform (several rows may map
    one column, as platform becomes $os and $os_version); a column no row names is kept by `default_rule`.
    String values listed in `null_strings` count as missing.
-#}
{% macro mapped_property_pairs(columns_by_name, mapping, key_column, default_rule, null_strings=[]) %}
    {% set pairs = [] %}
    {% for name, column in columns_by_name.items() %}
        {% set rules = mapping | selectattr(key_column, 'equalto', name) | list %}
        {% if rules | length == 0 %}
            {% set rules = [default_rule(name, column)] %}
        {% endif %}
        {% set ns = namespace(column_sql=adapter.quote(column.name)) %}
        {% if column.is_string() %}
            {% for null_string in null_strings %}
                {% set ns.column_sql = 'nullif(' ~ ns.column_sql ~ ', ' ~ posthog_migrate.sql_string(null_string) ~ ')' %}
            {% endfor %}
        {% endif %}
        {% for rule in rules if rule['transform'] != 'drop' %}
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
            {{ return(posthog_migrate.iso8601_utc(posthog_migrate.utc_timestamp(column_sql, data_type))) }}
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


{#-
    Integer-like in every warehouse's spelling: dbt's own integer types, DuckDB's TINYINT .. HUGEINT and unsigned
    ones, INT64, and decimals of scale 0 (Snowflake's NUMBER(38,0), a DECIMAL(38,0) id in DuckDB), which dbt
    never calls integers.
-#}
{% macro is_integer_column(column) %}
    {% set dtype = column.dtype | lower | replace(' ', '') %}
    {{ return(
        column.is_integer()
        or modules.re.match('^u?(tiny|small|medium|big|huge)?int(eger)?(1|2|4|8|16|32|64|128)?$', dtype) is not none
        or modules.re.match('^(byteint|long|short)$', dtype) is not none
        or modules.re.match('^(decimal|numeric|number|bignumeric)[(][0-9]+(,0)?[)]$', dtype) is not none
        or (column.is_numeric() and column.numeric_scale is not none and column.numeric_scale | int == 0)
    ) }}
{% endmacro %}


{#- Heap event columns no mapping row names keep their own name; integer ids become strings. -#}
{% macro heap_default_property_rule(name, column) %}
    {{ return({
        'posthog_property': name,
        'transform': 'string' if posthog_migrate.is_id_column(name, column) else 'value',
    }) }}
{% endmacro %}


{#-
    Members for json_text_prepend: `$<name>` from the column `<name>` of `relation`, for each name of `groups`.
    A group lists names that belong together (a referrer and its domain, a URL and its path, one visit's utm_*,
    one place) and is filled only where the JSON object `json_text` (built by json_object_text) has none of its
    keys, so what a source states wins over what is derived and never mixes with it. Presence is read from the
    text: inside a JSON string a quote is escaped, so `"<key>":` occurs only as a key.
-#}
{% macro properties_missing_from(json_text, relation, groups) %}
    {% set pairs = [] %}
    {% for group in groups %}
        {% set absent = [] %}
        {% for name in group %}
            {% do absent.append(posthog_migrate.json_text_lacks_key(json_text, '$' ~ name)) %}
        {% endfor %}
        {% for name in group %}
            {% do pairs.append(['$' ~ name, 'case when ' ~ absent | join(' and ') ~ ' then '
                ~ posthog_migrate.json_value_text(relation ~ '.' ~ name) ~ ' end']) %}
        {% endfor %}
    {% endfor %}
    {{ return(pairs) }}
{% endmacro %}

{#- Whether a JSON object built by json_object_text (so with no JSON nulls) lacks the top-level key `key`. -#}
{% macro json_text_lacks_key(json_text, key) -%}
    {{ dbt.position(posthog_migrate.sql_string('"' ~ key ~ '":'), json_text) }} = 0
{%- endmacro %}


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
