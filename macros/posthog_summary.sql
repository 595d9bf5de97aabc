{#
    `dbt run-operation posthog_summary`: what the build produced, per contract view and per source table, and a
    few events exactly as the loader will send them. Works on every target.
#}
{% macro posthog_summary(sample_events=3) %}
    {% set counts = run_query(
        "select 'posthog_aliases' as model, count(*) as total_rows from " ~ ref('posthog_aliases')
        ~ " union all select 'posthog_persons', count(*) from " ~ ref('posthog_persons')
        ~ " union all select 'posthog_events', count(*) from " ~ ref('posthog_events')
        ~ " union all select 'posthog_quarantine', count(*) from " ~ ref('posthog_quarantine')
    ) %}
    {{ print("\nContract views (sent in this order: aliases, persons, events)") }}
    {% for row in counts.rows %}
        {{ print("  " ~ "%-20s" | format(row[0]) ~ "%12s" | format("{:,}".format(row[1]))) }}
    {% endfor %}

    {% set reconciliation = run_query(
        "select source_name, source_table, source_rows, emitted_rows, quarantined_rows, skipped_rows,"
        ~ " unaccounted_rows, table_role from " ~ ref('posthog_reconciliation')
        ~ " order by source_name, source_rows is null, source_table"
    ) %}
    {{ print("\nReconciliation: source rows = emitted + quarantined + skipped") }}
    {{ print("  " ~ "%-48s%12s%12s%12s%12s%12s  %s" | format(
        "source table", "source", "emitted", "quarantined", "skipped", "unaccounted", "role")) }}
    {% for row in reconciliation.rows %}
        {#- a table that is not read has no count: its role says why -#}
        {% set cells = [row[0] ~ "." ~ row[1]] %}
        {% for value in row[2:7] %}
            {% do cells.append("-" if value is none else "{:,}".format(value)) %}
        {% endfor %}
        {% do cells.append(row[7]) %}
        {{ print("  " ~ "%-48s%12s%12s%12s%12s%12s  %s" | format(
            cells[0], cells[1], cells[2], cells[3], cells[4], cells[5], cells[6])) }}
    {% endfor %}

    {% set reasons = run_query(
        "select reason, count(*) as total_rows from " ~ ref('posthog_quarantine')
        ~ " group by reason order by 2 desc"
    ) %}
    {% if reasons.rows | length > 0 %}
        {{ print("\nQuarantined (see posthog_quarantine):") }}
        {% for row in reasons.rows %}
            {{ print("  " ~ "%10s" | format("{:,}".format(row[1])) ~ "  " ~ row[0]) }}
        {% endfor %}
    {% endif %}

    {% set plan = run_query(
        "select source_name, source_column, coalesce(posthog_property, '(dropped)'), transform,"
        ~ " coalesce(set_mode, ''), origin, count(*), min(source_table) from " ~ ref('int_mapping__plan')
        ~ " group by 1, 2, 3, 4, 5, 6 order by 1, 6 desc, 2, 3"
    ) %}
    {{ print("\nMapping plan (int_mapping__plan): source column -> PostHog property, transform, decided by") }}
    {% for row in plan.rows %}
        {{ print("  " ~ "%-10s %-44s %-34s %-13s %-9s %-8s %s" | format(
            row[0], row[1], row[2], row[3], row[4], row[5],
            row[7] if row[6] == 1 else "in " ~ row[6] ~ " tables")) }}
    {% endfor %}

    {% set samples = run_query(
        "select payload from (select payload, event, row_number() over (partition by event order by uuid)"
        ~ " as nth from " ~ ref('posthog_events') ~ ") as by_event where nth = 1 order by event limit "
        ~ sample_events
    ) %}
    {{ print("\nOne event of each of a few kinds, exactly as the loader sends it:") }}
    {% for row in samples.rows %}
        {{ print("  " ~ row[0]) }}
    {% endfor %}
{% endmacro %}
