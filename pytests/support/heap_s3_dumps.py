"""Write Heap Connect S3 dumps (Avro + manifests, as docs.heap.io's S3 specification lays them out) from Heap tables.

Each dump is `sync_<dump_id>/<table>/part-<n>-<uuid>.avro` files plus `manifests/sync_<dump_id>.json`. Ids are Avro
longs and times epoch milliseconds, as Heap writes them; files are Snappy-compressed like Heap's. The rows come
from a DuckDB query per (dump, table), so a test decides what each dump holds.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import fastavro

BUCKET = "heap-rs3-posthog-migrate-test"
_AVRO_TYPES = {
    "BIGINT": "long",
    "INTEGER": "long",
    "HUGEINT": "long",
    "DOUBLE": "double",
    "FLOAT": "double",
    "BOOLEAN": "boolean",
}


@dataclass
class TableDump:
    name: str
    query: str  # DuckDB SQL returning the rows this dump holds for the table
    incremental: bool = True
    files: int = 1
    # Override the Avro schema of the written file (a bad file for a test): field name -> Avro type
    avro_types: dict[str, Any] = field(default_factory=dict)


# Heap's own time columns as plain epoch-millisecond longs (what Heap documents); other times (custom
# properties) as Avro's timestamp-micros logical type: the reader must take both as the file says.
HEAP_TIME_COLUMNS = {"time", "joindate", "last_modified"}


def _avro_field(name: str, duckdb_type: str, override: Any) -> dict:
    if override is not None:
        return {"name": name, "type": override}
    avro_type: Any = _AVRO_TYPES.get(duckdb_type, "string")
    if duckdb_type.startswith("DECIMAL"):
        # a warehouse's NUMBER(38,0) id is an Avro long in Heap's files (Heap writes its ids as longs)
        avro_type = "long" if duckdb_type.endswith(",0)") else "double"
    if duckdb_type.startswith("TIMESTAMP"):
        avro_type = (
            "long"
            if name in HEAP_TIME_COLUMNS
            else {"type": "long", "logicalType": "timestamp-micros"}
        )
    return {"name": name, "type": ["null", avro_type]}


def _value(name: str, value: Any) -> Any:
    if isinstance(value, dt.datetime):
        aware = value.replace(tzinfo=dt.UTC)
        return int(aware.timestamp() * 1000) if name in HEAP_TIME_COLUMNS else aware
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return int(value) if value.as_tuple().exponent == 0 else float(value)
    return value


def write_dump(
    con: duckdb.DuckDBPyConnection, root: Path, dump_id: int, tables: Iterable[TableDump]
) -> dict:
    """Write one dump under `root` (a folder laid out like the bucket) and its manifest; return the manifest."""
    manifest: dict = {"dump_id": dump_id, "tables": [], "property_definitions": {}}
    for table in tables:
        relation = con.sql(table.query)
        names = relation.columns
        types = [str(t) for t in relation.types]
        rows = relation.fetchall()
        schema = fastavro.parse_schema(
            {
                "type": "record",
                "name": table.name,
                "fields": [
                    _avro_field(n, t, table.avro_types.get(n))
                    for n, t in zip(names, types, strict=True)
                ],
            }
        )
        folder = root / f"sync_{dump_id}" / table.name
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        size = -(-len(rows) // table.files) if rows else 0
        for part in range(table.files):
            chunk = rows[part * size : (part + 1) * size] if size else []
            name = f"part-{part:05d}-{uuid.UUID(int=dump_id * 1000 + part)}-c000.avro"
            with (folder / name).open("wb") as sink:
                records = [
                    {n: _value(n, v) for n, v in zip(names, row, strict=True)} for row in chunk
                ]
                fastavro.writer(sink, schema, records, codec="snappy")
            paths.append(f"s3://{BUCKET}/sync_{dump_id}/{table.name}/{name}")
        manifest["tables"].append(
            {
                "name": table.name,
                "columns": list(names),
                "files": paths,
                "incremental": table.incremental,
            }
        )
    (root / "manifests").mkdir(parents=True, exist_ok=True)
    (root / "manifests" / f"sync_{dump_id}.json").write_text(json.dumps(manifest, indent=1))
    return manifest
