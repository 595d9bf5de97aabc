"""A dbt-duckdb plugin: every connection dbt opens reads Avro and `s3://` paths with extensions loaded from their
PyPI wheels, so nothing is downloaded at run time. Enabled in profiles.yml:
`plugins: [{module: posthog_migrate_files.duckdb_plugin}]`. S3 credentials are resolved only when a model reads
an `s3://` path (see s3.py), never for a build that reads none."""

from __future__ import annotations

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection

from posthog_migrate_files.extensions import load_extensions


class Plugin(BasePlugin):
    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        load_extensions(conn)
