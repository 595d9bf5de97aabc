{#- Every row satisfies `expression`; on a column, the expression is usually about that column. -#}
{% test expression_is_true(model, expression, column_name=none) %}

    select * from {{ model }} where not ({{ expression }})

{% endtest %}
