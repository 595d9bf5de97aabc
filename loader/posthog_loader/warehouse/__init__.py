"""Warehouse connectors behind one small interface; each imports its driver only when used."""

from posthog_loader.dbt import Relation, Target
from posthog_loader.errors import ConfigError
from posthog_loader.warehouse.base import Dialect, Statement, Warehouse

__all__ = ["Dialect", "Statement", "Warehouse", "connect", "relation_sql"]


def relation_sql(relation: Relation, warehouse: Warehouse) -> str:
    """dbt's own rendering of the name when the manifest has it, else quoted by the dialect."""
    if relation.rendered:
        return relation.rendered
    return warehouse.dialect.qualify(relation.database, relation.schema, relation.identifier)


def connect(target: Target, *, read_only: bool, duckdb_memory_limit: str) -> Warehouse:
    """Open the warehouse the dbt target points at.

    `read_only` lets DuckDB share its file with other readers when the loader writes no state there.
    """
    if target.type == "duckdb":
        from posthog_loader.warehouse.duckdb import DuckDBWarehouse

        return DuckDBWarehouse(target, read_only=read_only, memory_limit=duckdb_memory_limit)
    if target.type == "snowflake":
        from posthog_loader.warehouse.snowflake import SnowflakeWarehouse

        return SnowflakeWarehouse(target)
    if target.type == "bigquery":
        from posthog_loader.warehouse.bigquery import BigQueryWarehouse

        return BigQueryWarehouse(target)
    if target.type == "redshift":
        from posthog_loader.warehouse.redshift import RedshiftWarehouse

        return RedshiftWarehouse(target)
    raise ConfigError(
        f"Target '{target.name}' has type {target.type}; load-posthog reads duckdb, snowflake, "
        "bigquery and redshift targets. Pick another with --target."
    )
