"""Heap Connect's S3 dumps (docs.heap.io "Heap Connect S3 specification") as the tables Heap's warehouses hold.

A bucket (or a local copy of one) holds one JSON manifest per dump under `manifests/`:
`{dump_id, tables: [{name, columns, files: [s3://<bucket>/sync_<dump_id>/<table>/part-*.avro], incremental}]}`.
Every dump is read, oldest first; a table entry with `incremental: false` is a full resync, so that table's rows
from earlier dumps are dropped. File paths are taken relative to their bucket and read under `heap_s3_path`, so a
copy of the bucket (another bucket, a prefix, a local folder) reads the same.

Unlike the warehouses, S3 does not resolve identity: events keep the user id they were recorded under (the Heap
staging follows `user_migrations` for them, as for every route), and `users` holds unmerged rows. Here each final
user's row is merged from its own and its merged-away users' rows as Heap's identity-resolution guide does it:
earliest `joindate`, latest `last_modified`, and for every other column the latest non-null value.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from urllib.parse import urlsplit

import duckdb
import fastavro

from posthog_migrate_files.landing import (
    Landing,
    LandingError,
    SourceFile,
    literal,
    quote,
)
from posthog_migrate_files.s3 import open_stream

USERS_ROWS_TABLE = "_heap_users_rows"
DUMP_COLUMN = "_posthog_dump_id"


@dataclass(frozen=True)
class ManifestTable:
    name: str
    files: tuple[str, ...]
    incremental: bool


@dataclass(frozen=True)
class Manifest:
    path: str
    dump_id: int
    tables: tuple[ManifestTable, ...]


@dataclass(frozen=True)
class DumpSummary:
    """One row of base_heap__s3_dumps: what one dump brought to one table, and whether it still counts."""

    table_name: str
    dump_id: int
    incremental: bool
    superseded_by_dump_id: int | None
    file_count: int
    landed_rows: int


def read_manifests(con: duckdb.DuckDBPyConnection, root: str) -> list[Manifest]:
    pattern = f"{root}/manifests/*.json"
    try:
        paths = [
            row[0]
            for row in con.execute("select file from glob(?) order by file", [pattern]).fetchall()
        ]
    except duckdb.Error as exc:
        raise LandingError(f"Cannot list {pattern}: {str(exc).splitlines()[0]}") from exc
    if not paths:
        raise LandingError(
            f"No Heap Connect manifests under {root}/manifests/. Point heap_s3_path at the bucket root (the "
            "folder holding manifests/ and sync_<dump_id>/), e.g. s3://heap-rs3-<id>."
        )
    manifests = [_parse_manifest(path, _read_text(con, path)) for path in paths]
    by_dump: dict[int, str] = {}
    for manifest in manifests:
        if manifest.dump_id in by_dump:
            raise LandingError(
                f"{manifest.path} and {by_dump[manifest.dump_id]} both describe dump {manifest.dump_id}."
            )
        by_dump[manifest.dump_id] = manifest.path
    return sorted(manifests, key=lambda m: m.dump_id)


def _read_text(con: duckdb.DuckDBPyConnection, path: str) -> str:
    try:
        return con.execute("select content from read_text(?)", [path]).fetchone()[0]
    except duckdb.Error as exc:
        raise LandingError(f"Cannot read manifest {path}: {str(exc).splitlines()[0]}") from exc


def _parse_manifest(path: str, text: str) -> Manifest:
    try:
        data = json.loads(text)
        tables = tuple(
            ManifestTable(
                name=str(table["name"]).lower(),
                files=tuple(str(f) for f in table["files"]),
                incremental=bool(table["incremental"]),
            )
            for table in data["tables"]
        )
        return Manifest(path, int(data["dump_id"]), tables)
    except (ValueError, KeyError, TypeError) as exc:
        raise LandingError(
            f"Manifest {path} is not a Heap Connect manifest ({type(exc).__name__}: {exc}); expected "
            "{dump_id, tables: [{name, files, incremental}]}."
        ) from exc


def plan_files(
    manifests: list[Manifest], root: str
) -> tuple[dict[str, list[SourceFile]], list[tuple]]:
    """Per table, the files still in force (from its last full resync on), and per (table, dump) what it brought."""
    in_force: dict[str, list[SourceFile]] = defaultdict(list)
    dumps: list[tuple[str, int, bool, int]] = []
    for manifest in manifests:
        for table in manifest.tables:
            if not table.incremental:
                in_force[table.name] = []
            files = [
                SourceFile(table.name, rebase(path, root), manifest.dump_id) for path in table.files
            ]
            in_force[table.name].extend(files)
            dumps.append((table.name, manifest.dump_id, table.incremental, len(files)))
    return dict(in_force), dumps


def rebase(path: str, root: str) -> str:
    """`s3://<any bucket>/<key>` read as `<root>/<key>`: the manifest names Heap's bucket, the user may read a copy."""
    parts = urlsplit(path)
    key = parts.path.lstrip("/") if parts.scheme == "s3" else path.lstrip("/")
    return f"{root}/{key}"


def check_files_exist(con: duckdb.DuckDBPyConnection, manifests: list[Manifest], root: str) -> None:
    """Every file a manifest lists must be there: a missing one would be a silent gap in the history."""
    listed: dict[str, set[str]] = {}
    for manifest in manifests:
        for table in manifest.tables:
            for path in table.files:
                rebased = rebase(path, root)
                folder = rebased.rsplit("/", 1)[0]
                if folder not in listed:
                    listed[folder] = {
                        row[0]
                        for row in con.execute(
                            "select file from glob(?)", [f"{folder}/*"]
                        ).fetchall()
                    }
                if rebased not in listed[folder]:
                    raise LandingError(
                        f"Manifest {manifest.path} (dump {manifest.dump_id}) lists {path} for table {table.name}, "
                        f"but {rebased} does not exist. Copy the whole dump, or remove its manifest to read "
                        "only the dumps before it."
                    )


def avro_reader(source: SourceFile) -> str:
    return f"read_avro({literal(source.path)})"


def avro_record_count(source: SourceFile) -> int:
    """The records an Avro file's blocks declare, each block checked (sync marker, decompression). DuckDB reads
    a truncated file's whole blocks and stops without an error; this count is what catches it."""
    try:
        with open_stream(source.path) as stream:
            return sum(block.num_records for block in fastavro.block_reader(stream))
    except Exception as exc:  # fastavro raises many types for a damaged file
        raise LandingError(
            f"{source.path} (table {source.table}) cannot be read: {type(exc).__name__}: {exc}. A damaged or "
            "partly copied file: copy it again from the source."
        ) from exc


def land_heap_s3(con: duckdb.DuckDBPyConnection, root: str, schema: str) -> list[DumpSummary]:
    root = root.rstrip("/")
    manifests = read_manifests(con, root)
    check_files_exist(con, manifests, root)
    in_force, dumps = plan_files(manifests, root)
    landing = Landing(con, schema)
    landed_rows: dict[tuple[str, int], int] = defaultdict(int)
    for table, files in sorted(in_force.items()):
        target = USERS_ROWS_TABLE if table == "users" else table
        extra = (
            (lambda f: {DUMP_COLUMN: str(int(f.dump_id))}) if table == "users" else (lambda _: {})
        )
        for landed in (
            landing.land(target, files, avro_reader, extra, avro_record_count) if files else []
        ):
            landed_rows[(table, landed.file.dump_id)] += landed.rows
        if not files:
            con.execute(f"drop table if exists {landing.relation(target)}")
    if "users" in in_force:
        merge_users(con, landing, has_migrations="user_migrations" in in_force)
    landing.drop_tables_except(
        {USERS_ROWS_TABLE if t == "users" else t for t in in_force} | {"users"}
    )
    return summarize(dumps, in_force, landed_rows)


def summarize(
    dumps: list[tuple], in_force: dict[str, list[SourceFile]], rows: dict
) -> list[DumpSummary]:
    summaries = []
    for table, dump_id, incremental, file_count in dumps:
        in_force_dumps = {f.dump_id for f in in_force.get(table, [])}
        later_resyncs = [d for t, d, inc, _ in dumps if t == table and d > dump_id and not inc]
        summaries.append(
            DumpSummary(
                table_name=table,
                dump_id=dump_id,
                incremental=incremental,
                superseded_by_dump_id=None if dump_id in in_force_dumps else min(later_resyncs),
                file_count=file_count,
                landed_rows=rows.get((table, dump_id), 0),
            )
        )
    return summaries


def merge_users(con: duckdb.DuckDBPyConnection, landing: Landing, has_migrations: bool) -> None:
    """`users` as Heap's warehouses hold it: one row per user id (its latest dump's), each final user's row merged
    with the rows of every user merged into it. Heap calls S3's user_migrations fully materialized (from -> final);
    chains are followed anyway, to the same final user int_heap_users__resolved picks (a cycle: its smallest id)."""
    rows = landing.relation(USERS_ROWS_TABLE)
    columns = [
        name for name, *_ in con.execute(f"describe {rows}").fetchall() if name != DUMP_COLUMN
    ]
    lower = {name.lower(): name for name in columns}
    if "user_id" not in lower:
        raise LandingError(
            f"Heap's users files have no user_id column (columns: {', '.join(columns)})."
        )
    user_id = quote(lower["user_id"])
    modified = (
        quote(lower["last_modified"]) if "last_modified" in lower else "cast(null as timestamp)"
    )
    recency = f"coalesce({modified}, timestamp '1970-01-01')"
    migrations = (
        f"""select cast(from_user_id as varchar) as from_user_id,
                arg_max(cast(to_user_id as varchar), coalesce("time", timestamp '1970-01-01')) as to_user_id
            from {landing.relation("user_migrations")}
            where from_user_id is not null and to_user_id is not null and from_user_id != to_user_id
            group by 1"""
        if has_migrations
        else "select null::varchar as from_user_id, null::varchar as to_user_id where false"
    )
    merged_columns = []
    for name in columns:
        quoted = quote(name)
        if name.lower() == "user_id":
            merged_columns.append(
                f"cast(final_user_id as {_user_id_type(con, rows, name)}) as {quoted}"
            )
        elif name.lower() == "joindate":
            merged_columns.append(f"min({quoted}) as {quoted}")
        elif name.lower() == "last_modified":
            merged_columns.append(f"max({quoted}) as {quoted}")
        else:
            merged_columns.append(
                f"arg_max({quoted}, {recency}) filter (where {quoted} is not null) as {quoted}"
            )
    con.execute(
        f"""
        create or replace table {landing.relation("users")} as
        with recursive latest as (
            select * exclude ({DUMP_COLUMN}) from {rows}
            qualify row_number() over (
                partition by {user_id} order by {DUMP_COLUMN} desc, {recency} desc
            ) = 1
        ),
        migrations as ({migrations}),
        walks as (
            select from_user_id as user_id, to_user_id as reached, [from_user_id, to_user_id] as path
            from migrations
            union all
            select walks.user_id, migrations.to_user_id, list_append(walks.path, migrations.to_user_id)
            from walks inner join migrations on walks.reached = migrations.from_user_id
            where not list_contains(walks.path, migrations.to_user_id)
        ),
        walk_ends as (
            select user_id, arg_max(path, len(path)) as path from walks group by user_id
        ),
        finals as (
            select
                walk_ends.user_id,
                case
                    when onward.to_user_id is null then walk_ends.path[-1]
                    -- a cycle: every user on it resolves to its smallest id
                    else list_min(walk_ends.path[list_position(walk_ends.path, onward.to_user_id):])
                end as final_user_id
            from walk_ends left join migrations as onward on walk_ends.path[-1] = onward.from_user_id
        ),
        placed as (
            select latest.*, coalesce(finals.final_user_id, cast(latest.{user_id} as varchar)) as final_user_id,
                coalesce(finals.final_user_id, cast(latest.{user_id} as varchar))
                    != cast(latest.{user_id} as varchar) as merged_away
            from latest left join finals on cast(latest.{user_id} as varchar) = finals.user_id
        ),
        final_users as (
            select {", ".join(merged_columns)} from placed group by final_user_id
        )
        select * from final_users
        union all by name
        select * exclude (final_user_id, merged_away) from placed where merged_away
        """
    )


def _user_id_type(con: duckdb.DuckDBPyConnection, relation: str, column: str) -> str:
    return con.execute(
        f"select column_type from (describe {relation}) where column_name = ?", [column]
    ).fetchone()[0]


def as_rows(summaries: list[DumpSummary]) -> dict[str, list]:
    return {
        "table_name": [s.table_name for s in summaries],
        "dump_id": [s.dump_id for s in summaries],
        "incremental": [s.incremental for s in summaries],
        "superseded_by_dump_id": [s.superseded_by_dump_id for s in summaries],
        "file_count": [s.file_count for s in summaries],
        "landed_rows": [s.landed_rows for s in summaries],
    }
