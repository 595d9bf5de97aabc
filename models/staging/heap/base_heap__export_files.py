"""Heap's tables from files (posthog_migrate_files.heap_export): Heap's one-time export (JSON lines) or the
per-table CSV files of PostHog's Heap guide, in `heap_files_path` (a folder or an s3:// prefix).

They land in the landing schema, where the Heap staging models find them as they find a warehouse's. One row per
file: its table and the rows landed from it.
"""

import pandas as pd
from posthog_migrate_files.heap_export import as_rows, land_heap_files
from posthog_migrate_files.s3 import prepare_connection


def model(dbt, session):
    path = dbt.config.get("heap_files_path")
    prepare_connection(session, path)
    return pd.DataFrame(as_rows(land_heap_files(session, path, dbt.config.get("landing_schema"))))
