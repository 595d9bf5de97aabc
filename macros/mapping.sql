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
    What each column of a relation becomes: one {name, column, rule, origin, property} per mapping rule, drops
    included (`name`: the column's key in columns_by_name).
    The mapping rows whose `key_column` names a column decide (origin `seed`; several rows may map one column, as
    platform becomes $os and $os_version); a column no row names is decided by `default_rule` (origin `default`).

    A column kept by its default rule never takes a name with a PostHog meaning: when its name is in
    `reserved_names` (the catalog's unmappable names), is set by the model itself (`derived_names`) or is the target
    of a mapping row, its property is `rename_prefix` + name (again, until free). Only a mapping row can give a
    column a reserved name. Names are unique per `set_mode` (a person's $set and $set_once are separate objects).
-#}
{% macro column_rules(
    columns_by_name, mapping, key_column, default_rule, reserved_names=[], derived_names=[], rename_prefix=''
) %}
    {#- names taken per set_mode: what the model sets itself, then every mapping row's target -#}
    {% set taken = {} %}
    {% set rules_by_column = {} %}
    {% for name, column in columns_by_name.items() %}
        {% set rules = mapping | selectattr(key_column, 'equalto', name) | list %}
        {% for rule in rules if rule['transform'] != 'drop' %}
            {% set names = taken.setdefault(rule.get('set_mode', ''), derived_names | list) %}
            {% if rule['posthog_property'] in names %}
                {{ exceptions.raise_compiler_error(
                    "Two columns map to the property '" ~ rule['posthog_property'] ~ "' (the second is "
                    ~ column.name ~ "). Change one of them in the mapping seed.") }}
            {% endif %}
            {% do names.append(rule['posthog_property']) %}
        {% endfor %}
        {% if rules %}
            {% do rules_by_column.update({name: {'origin': 'seed', 'rules': rules, 'rename': false}}) %}
        {% else %}
            {% do rules_by_column.update({name: {'origin': 'default', 'rules': [default_rule(name, column)], 'rename': true}}) %}
        {% endif %}
    {% endfor %}
    {#- then default-rule columns keeping their own name, before any renamed column looks for a free one -#}
    {% for decision in rules_by_column.values() if decision.rename and decision.rules[0]['transform'] != 'drop' %}
        {% set rule = decision.rules[0] %}
        {% set names = taken.setdefault(rule.get('set_mode', ''), derived_names | list) %}
        {% if rule['posthog_property'] not in reserved_names and rule['posthog_property'] not in names %}
            {% do names.append(rule['posthog_property']) %}
            {% do decision.update({'rename': false}) %}
        {% endif %}
    {% endfor %}
    {% set decided = [] %}
    {% for name, column in columns_by_name.items() %}
        {% set decision = rules_by_column[name] %}
        {% for rule in decision.rules %}
            {% set ns = namespace(property=rule['posthog_property']) %}
            {% if decision.rename and rule['transform'] != 'drop' %}
                {#- its own name is reserved or taken -#}
                {% set names = taken[rule.get('set_mode', '')] %}
                {% set ns.property = rename_prefix ~ ns.property %}
                {% for attempt in names if ns.property in names %}
                    {% set ns.property = rename_prefix ~ ns.property %}
                {% endfor %}
                {% do names.append(ns.property) %}
            {% endif %}
            {% do decided.append({
                'name': name, 'column': column, 'rule': rule, 'origin': decision.origin,
                'property': ns.property or none,
            }) %}
        {% endfor %}
    {% endfor %}
    {{ return(decided) }}
{% endmacro %}


{#-
    Properties built from column_rules' decisions (drops left out), as [property, value_sql, rule, column]. String
    values listed in `null_strings` count as missing.
-#}
{% macro mapped_property_pairs(decided_rules, null_strings=[]) %}
    {% set pairs = [] %}
    {% for decided in decided_rules if decided.rule['transform'] != 'drop' %}
        {% set column = decided.column %}
        {% set ns = namespace(column_sql=posthog_migrate.quote_identifier(column.name)) %}
        {% if column.is_string() %}
            {% for null_string in null_strings %}
                {% set ns.column_sql = 'nullif(' ~ ns.column_sql ~ ', ' ~ posthog_migrate.sql_string(null_string) ~ ')' %}
            {% endfor %}
        {% endif %}
        {% do pairs.append([
            decided.property,
            posthog_migrate.property_value(ns.column_sql, column, decided.rule['transform']),
            decided.rule,
            column,
        ]) %}
    {% endfor %}
    {{ return(pairs) }}
{% endmacro %}


{#-
    The names PostHog gives a meaning of its own (`kind`: event_property or person_property), which a source
    property never takes unless a mapping row says so: the posthog_name_catalog seed's unmappable names.
-#}
{% macro posthog_reserved_names(kind) %}
    {% set names = [] %}
    {% for row in posthog_migrate.posthog_name_catalog_rows() if row['kind'] == kind and not row['mappable'] %}
        {% do names.append(row['name']) %}
    {% endfor %}
    {{ return(names) }}
{% endmacro %}


{#-
    For JSON objects whose keys are only known when the query runs (Amplitude's event_properties): each reserved
    name no mapping row names, as [name, prefix + name], for json_text_rename_and_set.
-#}
{% macro reserved_name_renames(reserved_names, mapped_names, prefix) %}
    {% set renames = [] %}
    {% for name in reserved_names if name not in mapped_names %}
        {% do renames.append([name, prefix ~ name]) %}
    {% endfor %}
    {{ return(renames) }}
{% endmacro %}


{#-
    The first of `pairs` (from mapped_property_pairs) whose value is a number PostHog refuses, as a SQL expression
    giving its property name, or null: a float column holding NaN or an infinity (which property_value leaves
    out of the JSON), or a JSON-like column (JSON, VARIANT, struct, list) holding such a number.
-#}
{% macro refused_number_property(pairs) %}
    {% set checks = [] %}
    {% for property, value_sql, rule, column in pairs %}
        {% set column_sql = posthog_migrate.quote_identifier(column.name) %}
        {% if column.is_float() %}
            {% do checks.append('when not ' ~ posthog_migrate.is_finite(column_sql)
                ~ ' then ' ~ posthog_migrate.sql_string(property)) %}
        {% elif not (column.is_string() or posthog_migrate.has_scalar_json(column)) %}
            {% set value_json = posthog_migrate.json_value_text(value_sql) %}
            {% do checks.append('when ' ~ posthog_migrate.json_text_has_refused_number(value_json)
                ~ ' then ' ~ posthog_migrate.sql_string(property)) %}
        {% endif %}
    {% endfor %}
    {{ return('case ' ~ checks | join(' ') ~ ' end' if checks else 'cast(null as ' ~ dbt.type_string() ~ ')') }}
{% endmacro %}


{#-
    The UTF-8 bytes of json_object_text(pairs), but only where they may come near `limit` with `more_bound` bytes
    (a SQL upper bound of what the payload adds) beside them; null elsewhere. The bound costs almost nothing
    (string lengths, constants for scalars), so the JSON is measured only for the rare large row. Computed in
    the same select as the properties: a CASE over a view's column would build them for every row.
-#}
{% macro json_object_bytes_if_large(pairs, more_bound, limit) %}
    {{ return('case when ' ~ posthog_migrate.json_object_bytes_bound(pairs) ~ ' + ' ~ more_bound ~ ' > ' ~ limit
        ~ ' then ' ~ posthog_migrate.json_object_text_bytes(pairs) ~ ' end') }}
{% endmacro %}


{#- A SQL upper bound of the UTF-8 bytes of json_object_text(pairs), from string lengths and constants. -#}
{% macro json_object_bytes_bound(pairs) %}
    {% set bounds = ['2'] %}
    {% for property, value_sql, rule, column in pairs %}
        {% set column_sql = posthog_migrate.quote_identifier(column.name) %}
        {#- a key at most 6 bytes a character when escaped, its quotes, colon and comma -#}
        {% do bounds.append((property | length) * 6 + 4) %}
        {% if column.is_string() %}
            {#- escaping takes a byte to at most 6 (\u00XX); transforms add at most a scheme -#}
            {% do bounds.append('coalesce(6 * ' ~ posthog_migrate.byte_length(column_sql) ~ ' + 16, 0)') %}
        {% elif posthog_migrate.has_scalar_json(column) %}
            {#- numbers (BigQuery's BIGNUMERIC has 77 digits), booleans, dates and times as ISO 8601 strings -#}
            {% do bounds.append('100') %}
        {% else %}
            {#- JSON-like values measured as a one-member object (measured without building where text is short) -#}
            {% do bounds.append(posthog_migrate.json_object_text_bytes([[property, value_sql]])) %}
        {% endif %}
    {% endfor %}
    {{ return('(' ~ bounds | join(' + ') ~ ')') }}
{% endmacro %}


{#- Whether a column's values are JSON scalars of bounded size (numbers, booleans, dates, times), not text or JSON. -#}
{% macro has_scalar_json(column) %}
    {% set data_type = column.dtype | lower %}
    {{ return(column.is_number() or data_type in ('boolean', 'bool', 'date')
        or 'timestamp' in data_type or 'datetime' in data_type) }}
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
