{#
    Test-only, like fakesnow.sql: bqemulator parses with DuckDB, which rejects `create table t (<columns>) as select`,
    the statement dbt-bigquery writes for a table whose contract is enforced. Against the emulator the column list is
    left out; dbt still checks the contract (names and types of the query's columns) before building. A real
    BigQuery is never sent this.
#}
{% macro bigquery__get_table_columns_and_constraints() %}{% endmacro %}
