{#
    Test-only: added to the macro path of the test copy of the project (support/warehouse_project.py), never
    shipped. dbt-redshift writes DATEADD(datepart, n, value), Redshift's function, with the date part as a bare
    word, which PostgreSQL (the stand-in) reads as a column. Here the same arithmetic is an interval, which both
    run alike; a real Redshift is never sent this.
#}
{% macro redshift__dateadd(datepart, interval, from_date_or_timestamp) %}
    ({{ from_date_or_timestamp }} + ({{ interval }}) * interval '1 {{ datepart }}')
{% endmacro %}
