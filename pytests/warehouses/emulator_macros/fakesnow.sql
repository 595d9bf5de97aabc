{#
    Test-only: added to the macro path of the test copy of the project (support/warehouse_project.py), never
    shipped. fakesnow keeps temporary tables in a catalog that `describe table` cannot see, so dbt's unit tests
    (which describe the temporary table they build) find no columns there. Against the emulator dbt's temporary
    tables become ordinary ones; a real Snowflake is never sent this.
#}
{% macro snowflake__get_create_table_as_sql(temporary, relation, sql) %}
    {{ return(create_table_as(false, relation, sql)) }}
{% endmacro %}
