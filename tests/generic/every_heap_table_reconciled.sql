{#-
    Every table and view of the Heap schema has a row in the reconciliation: read from the information schema when
    the test runs, independently of the discovery that built the model, so a table skipped by a bug, or added
    since the build, fails the test by name.
-#}
{% test every_heap_table_reconciled(model) %}

    with

    heap_tables as (

        {{ adapter.dispatch('list_tables_sql', 'posthog_migrate')(posthog_migrate.heap_database(), posthog_migrate.heap_schema()) }}

    ),

    reconciled as (

        select source_table
        from {{ model }}
        where source_name = 'heap'

    )

    select heap_tables.table_name as missing_table
    from heap_tables
    left join reconciled on lower(heap_tables.table_name) = reconciled.source_table
    where reconciled.source_table is null

{% endtest %}
