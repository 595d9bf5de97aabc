{#-
    dbt's type_string() is TEXT, which Redshift stores as VARCHAR(256), and a cast to it silently cuts longer
    values: every string this project casts gets Redshift's widest VARCHAR instead.
-#}
{% macro redshift__type_string() -%}
    varchar(65535)
{%- endmacro %}
