"""`posthog-migrate-fetch`: download a source's export into a folder the dbt project reads as it lies."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.filesize import decimal
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from posthog_migrate_fetch.amplitude_api import ENDPOINTS, Credentials, ExportApi, Region
from posthog_migrate_fetch.amplitude_fetch import (
    DEFAULT_RETRY,
    AmplitudeFetch,
    FetchSettings,
    FetchSummary,
)
from posthog_migrate_fetch.errors import ConfigError, FetchError, InterruptedFetchError
from posthog_migrate_fetch.hours import Granularity, HourRange, parse_hour
from posthog_migrate_fetch.ledger import RangeRecord

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help=(
        "Download a source's export into a folder the dbt project reads where it lies. Exit codes: 0 done "
        "(ranges not exportable yet are listed), 2 configuration, 3 credentials refused, 4 source "
        "unavailable after retries (re-run resumes), 5 an hour over the source's size limit, 130 interrupted."
    ),
)


@app.callback()
def _sources() -> None:
    """Download a source's export into a folder the dbt project reads where it lies."""


@app.command()
def amplitude(
    *,
    start: Annotated[
        str, typer.Option(help="First UTC day (YYYY-MM-DD) or hour (YYYY-MM-DDTHH) of upload time.")
    ],
    end: Annotated[
        str,
        typer.Option(
            help="Last UTC day (YYYY-MM-DD, all of it) or hour (YYYY-MM-DDTHH), included."
        ),
    ],
    to: Annotated[
        Path,
        typer.Option(
            help="Download folder: then dbt build --vars '{amplitude_export_path: <it>}'."
        ),
    ],
    region: Annotated[
        Region, typer.Option(help="Amplitude data region (EU: analytics.eu.amplitude.com).")
    ] = Region.us,
    granularity: Annotated[
        Granularity,
        typer.Option(help="One request per UTC day, or per hour (for very busy projects)."),
    ] = Granularity.day,
    endpoint: Annotated[
        str | None,
        typer.Option(help="Export API URL instead of the region's (a proxy, or a test server)."),
    ] = None,
    max_retries: Annotated[
        int,
        typer.Option(min=0, help="Retries of a failing request (backoff doubles, up to 2 min)."),
    ] = 6,
    timeout: Annotated[
        float, typer.Option(min=1.0, help="Seconds a request may stall before it is retried.")
    ] = 600.0,
) -> None:
    """Amplitude's Export API → `<to>/<project_id>/*.json.gz`, resumable: a re-run fetches only missing
    ranges. Keys come from AMPLITUDE_API_KEY and AMPLITUDE_SECRET_KEY. The range selects by upload time
    (server_upload_time), as the API does; ranges Amplitude has no data for are recorded, not errors."""
    console = Console(stderr=True)
    try:
        first = parse_hour(start, end=False, option="--start")
        last = parse_hour(end, end=True, option="--end")
        if first > last:
            raise ConfigError(f"--start {start} is after --end {end}.")
    except ValueError as exc:
        _fail(console, ConfigError(str(exc)))
    except ConfigError as exc:
        _fail(console, exc)
    settings = FetchSettings(
        folder=to,
        wanted=HourRange(first, last),
        granularity=granularity,
        retry=dataclasses.replace(DEFAULT_RETRY, max_retries=max_retries),
    )
    try:
        api = ExportApi(endpoint or ENDPOINTS[region], Credentials.from_environment(), timeout)
        try:
            with _ProgressReporter(console) as reporter:
                summary = AmplitudeFetch(settings, api, reporter).run()
        finally:
            api.close()
    except KeyboardInterrupt:
        _fail(
            console,
            InterruptedFetchError("Interrupted; completed ranges are kept, re-run to resume."),
        )
    except FetchError as exc:
        _fail(console, exc)
    _print_summary(console, to, summary)


class _ProgressReporter:
    """A progress bar over the hours to fetch and the bytes received; notes (retries, splits) above it."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("hours"),
            TextColumn("{task.fields[received]}"),
            TimeElapsedColumn(),
            console=console,
        )
        self.task: TaskID | None = None
        self.received_bytes = 0

    def __enter__(self) -> _ProgressReporter:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def planned(self, ranges: list[HourRange]) -> None:
        total = sum(span.hours for span in ranges)
        self.task = self.progress.add_task("Amplitude export", total=total, received=decimal(0))

    def started(self, span: HourRange) -> None:
        if self.task is not None:
            self.progress.update(self.task, description=f"Amplitude {span.label()}")

    def received(self, size: int) -> None:
        self.received_bytes += size
        if self.task is not None:
            self.progress.update(self.task, received=decimal(self.received_bytes))

    def finished(self, record: RangeRecord) -> None:
        if self.task is not None:
            self.progress.advance(self.task, record.span.hours)

    def note(self, message: str) -> None:
        self.progress.console.print(f"[yellow]{message}")


def _print_summary(console: Console, folder: Path, summary: FetchSummary) -> None:
    """The table and the next command on stdout; the warning about recent hours on stderr."""
    out = Console()
    table = Table(title=f"Amplitude export in {folder}", title_justify="left")
    table.add_column("")
    table.add_column("", justify="right")
    table.add_row("hours requested", f"{summary.requested_hours:,}")
    table.add_row("hours already complete", f"{summary.already_complete_hours:,}")
    table.add_row("ranges fetched with data", f"{summary.ranges_with_data:,}")
    table.add_row("ranges with no data (404)", f"{summary.ranges_without_data:,}")
    table.add_row("ranges split (too large)", f"{summary.splits:,}")
    table.add_row("retries", f"{summary.retries:,}")
    table.add_row("files written", f"{summary.files:,}")
    table.add_row("bytes written", f"{summary.bytes:,}")
    out.print(table)
    if summary.not_yet_exportable_hours:
        console.print(
            f"{summary.not_yet_exportable_hours} hour(s) at the end are not exportable yet (Amplitude "
            f"exports an hour about two hours after it ends): re-run after "
            f"{summary.exportable_from:%Y-%m-%d %H:00} UTC."
        )
    out.print(
        f"Next: dbt build --vars '{{amplitude_enabled: true, amplitude_export_path: {folder}}}'",
        highlight=False,
        soft_wrap=True,
    )


def _fail(console: Console, error: FetchError) -> None:
    console.print(f"[red]error:[/red] {error}", highlight=False, soft_wrap=True)
    raise typer.Exit(int(error.exit_code))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
