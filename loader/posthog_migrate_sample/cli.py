"""`posthog-migrate-sample`: write realistic source data so the pipeline can run without a real warehouse."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Annotated

import duckdb
import typer
from rich.console import Console
from rich.table import Table

from posthog_migrate_sample.amplitude import AmplitudeSampleSpec, generate_amplitude_sample
from posthog_migrate_sample.heap import HeapSampleSpec, generate_heap_sample

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False)

DuckdbPath = Annotated[
    Path,
    typer.Option(envvar="DUCKDB_PATH", help="DuckDB file to write into (created if missing)."),
]


@app.callback()
def _sources() -> None:
    """Write realistic source data so the pipeline can run without a real warehouse."""


@app.command()
def heap(
    *,
    duckdb_path: DuckdbPath = Path("target/posthog_migrate.duckdb"),
    events: Annotated[int, typer.Option(min=1, help="Number of Heap events to generate.")] = 50_000,
    schema: Annotated[
        str, typer.Option(help="Heap Connect schema to (re)create.")
    ] = "heap_main_production",
    seed: Annotated[int, typer.Option(help="Same seed, same data.")] = 42,
    end_date: Annotated[
        str, typer.Option(help="Last day of generated history (YYYY-MM-DD).")
    ] = "2026-06-30",
    days: Annotated[int, typer.Option(min=1, help="Days of history before --end-date.")] = 730,
    memory_limit: Annotated[
        str,
        typer.Option(
            help="DuckDB's memory_limit while generating; events are written in chunks and anything "
            "larger spills to <file>.tmp, so any --events fits."
        ),
    ] = "1GB",
) -> None:
    """(Re)create a Heap Connect schema: users, sessions, pageviews, event tables, user_migrations, ..."""
    try:
        end = date.fromisoformat(end_date)
    except ValueError as exc:
        raise typer.BadParameter(
            f"{end_date!r} is not a YYYY-MM-DD date", param_hint="--end-date"
        ) from exc
    spec = HeapSampleSpec(events=events, schema=schema, seed=seed, end_date=end, days=days)
    duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    try:
        con = duckdb.connect(str(duckdb_path), config={"memory_limit": memory_limit})
    except duckdb.ParserException as exc:
        raise typer.BadParameter(str(exc), param_hint="--memory-limit") from exc
    with con:
        counts = generate_heap_sample(con, spec)
    _print_counts(
        f"Heap Connect sample in {duckdb_path} ({schema})", counts, time.perf_counter() - started
    )


@app.command()
def amplitude(
    *,
    export_zip: Annotated[
        Path | None,
        typer.Option(help="Export API archive to write (zip of hourly *.json.gz); omit to skip."),
    ] = Path("target/sample/amplitude_export.zip"),
    duckdb_path: Annotated[
        Path | None,
        typer.Option(help="Also write Amplitude's warehouse export tables into this DuckDB file."),
    ] = None,
    warehouse_schema: Annotated[
        str, typer.Option(help="Schema for EVENTS_<project_id> and MERGE_IDS_<project_id>.")
    ] = "amplitude",
    events: Annotated[
        int, typer.Option(min=1, help="Number of Amplitude events to generate.")
    ] = 20_000,
    project_id: Annotated[int, typer.Option(help="Amplitude project id.")] = 609539,
    seed: Annotated[int, typer.Option(help="Same seed, same data.")] = 7,
) -> None:
    """Write an Amplitude export: the Export API zip and/or the warehouse export tables."""
    spec = AmplitudeSampleSpec(events=events, project_id=project_id, seed=seed)
    started = time.perf_counter()
    if duckdb_path is None:
        counts = generate_amplitude_sample(spec, export_zip)
    else:
        duckdb_path.parent.mkdir(parents=True, exist_ok=True)
        with duckdb.connect(str(duckdb_path)) as con:
            counts = generate_amplitude_sample(spec, export_zip, con, warehouse_schema)
    where = ", ".join(str(p) for p in (export_zip, duckdb_path) if p is not None)
    _print_counts(f"Amplitude sample in {where}", counts, time.perf_counter() - started)


def _print_counts(title: str, counts: dict[str, int], seconds: float) -> None:
    # the title on a line of its own: as a table title, rich wraps a long path to the table's width
    console = Console()
    console.print(title, soft_wrap=True)
    table = Table()
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, rows in counts.items():
        table.add_row(name, f"{rows:,}")
    console.print(table)
    console.print(f"generated in {seconds:.1f}s")


def main() -> None:
    app()
