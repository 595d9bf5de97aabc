"""Heap Connect's S3 dumps landed as the tables Heap's warehouses hold (posthog_migrate_files.heap_s3).

`heap_s3_path` is the bucket (s3://heap-rs3-<id>[/prefix], keys from the AWS conventions) or a local copy of it.
The tables go to the landing schema, where the Heap staging models find them as they find a warehouse's; this
model returns one row per (table, dump): what the dump brought and whether a later full resync superseded it.
"""

import pandas as pd
from posthog_migrate_files.heap_s3 import as_rows, land_heap_s3
from posthog_migrate_files.s3 import prepare_connection


def model(dbt, session):
    path = dbt.config.get("heap_s3_path")
    prepare_connection(session, path)
    return pd.DataFrame(as_rows(land_heap_s3(session, path, dbt.config.get("landing_schema"))))
