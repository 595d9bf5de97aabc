{#-
    What each source column becomes in PostHog, decided by the same macros that generate the staging SQL: one row
    per (source, table, column, property), with the transform and whether a seed row or a default rule decided.
-#}
{% if var('heap_s3_path') %}
-- depends_on: {{ ref('base_heap__s3_dumps') }}
{% elif var('heap_files_path') %}
-- depends_on: {{ ref('base_heap__export_files') }}
{% endif %}
-- depends_on: {{ ref('heap_event_property_map') }}
-- depends_on: {{ ref('heap_user_property_map') }}
-- depends_on: {{ ref('amplitude_field_map') }}
-- depends_on: {{ ref('amplitude_event_property_map') }}
-- depends_on: {{ ref('posthog_name_catalog') }}
-- depends_on: {{ source('heap', 'users') }}
{%- set plan = [] %}

{%- if var('heap_enabled') and execute %}
{%- for table in posthog_migrate.heap_event_tables() %}
{%- for decided in posthog_migrate.heap_event_column_rules(posthog_migrate.columns_by_lower_name(table.relation)) %}
{%- do plan.append([
    'heap', table.name | lower, decided.name, decided.property, decided.rule['transform'],
    none, decided.origin,
]) %}
{%- endfor %}
{%- endfor %}
{%- for decided in posthog_migrate.heap_user_column_rules(
    posthog_migrate.columns_by_lower_name(source('heap', 'users'))
) %}
{%- do plan.append([
    'heap', 'users', decided.name, decided.property, decided.rule['transform'],
    decided.rule['set_mode'], decided.origin,
]) %}
{%- endfor %}
{#- what the users table lacks is filled from the user's first and latest touches -#}
{%- for set_mode, groups in posthog_migrate.heap_touched_person_properties().items() %}
{%- for name in groups | sum(start=[]) %}
{%- do plan.append(['heap', 'users', 'touches.' ~ name, '$' ~ name, 'value', set_mode, 'default']) %}
{%- endfor %}
{%- endfor %}
{%- endif %}

{%- if var('custom_events_relation') and execute %}
{%- set events_table = var('custom_events_relation').split('.')[-1] | lower %}
{%- do plan.append(['custom', events_table, 'properties.*', '*', 'value', none, 'default']) %}
{%- do plan.append(['custom', events_table, 'properties.$set', '*', 'value', 'set', 'default']) %}
{%- do plan.append(['custom', events_table, 'properties.$set_once', '*', 'value', 'set_once', 'default']) %}
{%- endif %}

{%- if var('amplitude_enabled') and execute %}
{%- set events_table = 'export' if posthog_migrate.amplitude_reads_export_files()
    else posthog_migrate.amplitude_table_name('events') | lower %}
{%- for rule in posthog_migrate.amplitude_field_map_rows() %}
{%- do plan.append([
    'amplitude', events_table, rule['amplitude_field'], rule['posthog_property'] or none, rule['transform'], none,
    'seed',
]) %}
{%- endfor %}
{%- for rule in posthog_migrate.amplitude_event_property_map_rows() %}
{%- do plan.append([
    'amplitude', events_table, 'event_properties.' ~ rule['amplitude_property'], rule['posthog_property'], 'rename',
    none, 'seed',
]) %}
{#- kept under its own name beside the renamed copy, as PostHog's importer keeps it -#}
{%- if rule['keep_original'] in (true, 'true', 'True') %}
{%- do plan.append([
    'amplitude', events_table, 'event_properties.' ~ rule['amplitude_property'], rule['amplitude_property'], 'value',
    none, 'seed',
]) %}
{%- endif %}
{%- endfor %}
{#- names PostHog owns, kept under amplitude_<name> unless a mapping row names them (as the models do) -#}
{%- for name, renamed in posthog_migrate.reserved_name_renames(
    posthog_migrate.posthog_reserved_names('event_property'),
    posthog_migrate.amplitude_event_property_map_rows() | map(attribute='amplitude_property') | list, 'amplitude_'
) %}
{%- do plan.append(['amplitude', events_table, 'event_properties.' ~ name, renamed, 'rename', none, 'default']) %}
{%- endfor %}
{%- for name in posthog_migrate.posthog_reserved_names('person_property') %}
{%- do plan.append([
    'amplitude', events_table, 'user_properties.' ~ name, 'amplitude_' ~ name, 'rename', 'set', 'default',
]) %}
{%- endfor %}
{%- do plan.append(['amplitude', events_table, 'event_properties.*', '*', 'value', none, 'default']) %}
{%- do plan.append(['amplitude', events_table, 'user_properties.*', '*', 'value', 'set', 'default']) %}
{%- do plan.append([
    'amplitude', events_table, 'user_properties.initial_*', '$initial_*', 'value', 'set_once', 'default',
]) %}
{%- endif %}

with

plan as (

    select *
    from {{ posthog_migrate.literal_rows(
        ['source_name', 'source_table', 'source_column', 'posthog_property', 'transform', 'set_mode', 'origin'],
        plan or [[none, none, none, none, none, none, none]]
    ) }}

),

final as (

    select
        source_name,
        source_table,
        source_column,
        posthog_property,
        transform,
        set_mode,
        origin
    from plan
    where source_name is not null

)

select * from final
