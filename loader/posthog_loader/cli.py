"""`load-posthog`: load the posthog_* contract views into PostHog (see docs/loader.md)."""

import datetime as dt
import os
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Protocol

import orjson
import typer
from rich.console import Console

from posthog_loader.config import (
    DEFAULT_HOST,
    MODEL_VIEWS,
    CaptureSettings,
    ExportSettings,
    LoadSettings,
    RecentMode,
    SendSettings,
    check_state_location,
    check_writable,
    normalize_host,
    parse_duration,
    parse_models,
    read_api_key,
    unencrypted_remote,
)
from posthog_loader.errors import ConfigError, ExitCode, LoaderError
from posthog_loader.export.destination import parse_destination
from posthog_loader.pacing import DEFAULT_RATE
from posthog_loader.pipeline import LoadRun
from posthog_loader.retry import RetryPolicy
from posthog_loader.scrub import Scrubber
from posthog_loader.sharding import parse_shard
from posthog_loader.verify.run import VerifyRun
from posthog_loader.verify.settings import (
    DEFAULT_API_HOST,
    VerifySettings,
    normalize_api_host,
    parse_project_id,
    parse_tolerance,
    parse_warnings_since,
    read_personal_api_key,
)

MIB = 1024 * 1024
# Capture refuses bodies over 20 MiB; uncompressed batches stay well under even before gzip.
MAX_BATCH_BYTES = 16 * MIB
# Export parts: small next to what PostHog's importer handles (it streams 15 MB chunks of a part,
# but downloads a gzipped part whole first), large enough that a billion events make ~10k parts.
DEFAULT_PART_EVENTS = 200_000
DEFAULT_PART_BYTES = 64 * MIB
MAX_PART_BYTES = 1024 * MIB
ALL_MODELS = ",".join(MODEL_VIEWS)

app = typer.Typer(
    add_completion=False,
    help=(
        "Load the posthog_aliases, posthog_persons and posthog_events views that `dbt build` made "
        "into PostHog's capture API: resumable, concurrent, every row delivered or quarantined "
        "with a reason; re-runs send only what is new. The project token comes from "
        "POSTHOG_API_KEY. Exit codes: 0 all delivered (or held), 1 rows quarantined, 2 "
        "configuration, 3 token refused, 4 PostHog unreachable or failing (re-run resumes), 5 "
        "warehouse, 7 a local file could not be written (disk full), 8 another run holds the "
        "lease, 70 internal error, 130 interrupted. `load-posthog verify` checks PostHog's counts."
    ),
)


# Options the load and `verify` share: where dbt's project, profile and the loader's state are.
ProjectDirOption = Annotated[
    Path, typer.Option(envvar="DBT_PROJECT_DIR", help="dbt project folder (dbt_project.yml).")
]
ProfilesDirOption = Annotated[
    Path | None,
    typer.Option(
        envvar="DBT_PROFILES_DIR",
        help="Folder with profiles.yml (default: the project dir if it has one, else ~/.dbt).",
    ),
]
TargetOption = Annotated[
    str | None,
    typer.Option(
        "--target", "-t", envvar="DBT_TARGET", help="dbt target (default: the profile's `target:`)."
    ),
]
StateSchemaOption = Annotated[
    str | None,
    typer.Option(
        help="Schema of the loader's state tables (posthog_load_*; default: the target's schema)."
    ),
]
StateFileOption = Annotated[
    Path | None,
    typer.Option(
        help="Keep state in this local JSON file (+ .quarantine.jsonl, .delivered.jsonl) instead."
    ),
]
ReportOption = Annotated[Path | None, typer.Option(help="Write the JSON report here.")]
RequestTimeoutOption = Annotated[
    float, typer.Option(min=0.1, help="Seconds to wait for PostHog's answer to one request.")
]
ModelsOption = Annotated[
    str, typer.Option(help="Comma-separated subset; always run in this order.")
]
WindowRowsOption = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="Most rows per warehouse read window, one sort each (default: 250,000; "
        "DuckDB 25,000).",
    ),
]
ResetOption = Annotated[
    bool,
    typer.Option(
        "--reset",
        help="Forget the checkpoint, record and quarantine of the selected models (this "
        "shard's, and any left by another split).",
    ),
]
LookbackOption = Annotated[
    str,
    typer.Option(
        help="Events: how far before the last run's newest event to look again for late "
        "rows (uuids already delivered are skipped), e.g. 3d, 36h.",
    ),
]
ShardOption = Annotated[
    str | None,
    typer.Option(
        help="Only slice i of n (i/n, e.g. 0/4): rows with mod(shard_key, n) = i, with a "
        "checkpoint of its own. Run n processes, 0/n … (n-1)/n, for the whole.",
    ),
]
DuckDBMemoryOption = Annotated[
    str,
    typer.Option(
        help="Most memory DuckDB may use while reading. It starts at 48MB and doubles up to "
        "this when a query needs more (an expensive view); past it, windows are read smaller."
    ),
]


@app.callback(invoke_without_command=True)
def load(
    context: typer.Context,
    *,
    project_dir: ProjectDirOption = Path("."),
    profiles_dir: ProfilesDirOption = None,
    target: TargetOption = None,
    models: ModelsOption = ALL_MODELS,
    host: Annotated[
        str, typer.Option(envvar="POSTHOG_HOST", help="PostHog capture host.")
    ] = DEFAULT_HOST,
    batch_events: Annotated[
        int, typer.Option(min=1, max=100_000, help="Most events per request.")
    ] = 5000,
    batch_bytes: Annotated[
        int,
        typer.Option(min=1024, max=MAX_BATCH_BYTES, help="Most uncompressed bytes per request."),
    ] = 5 * MIB,
    window_rows: WindowRowsOption = None,
    recent: Annotated[
        RecentMode,
        typer.Option(
            case_sensitive=False,
            help="Events younger than 48 h: hold them for a later run, or send them live "
            "(historical_migration=false).",
        ),
    ] = RecentMode.HOLD,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Requests in flight.")] = 4,
    rate: Annotated[
        float,
        typer.Option(
            min=0,
            help="Events/second budget for the whole load; with --shard i/n, across all n "
            "loaders (each takes rate/n). The default stays below the few thousand events/s "
            "PostHog asks self-run imports to keep to; raise it once PostHog agrees. 0: no "
            "budget (your own PostHog or a test server).",
        ),
    ] = DEFAULT_RATE,
    max_retries: Annotated[
        int, typer.Option(min=0, help="Retries per request on 408/429/5xx/network errors.")
    ] = 6,
    retry_base_delay: Annotated[
        float, typer.Option(min=0, help="First backoff in seconds; doubles per retry, jittered.")
    ] = 0.5,
    retry_max_delay: Annotated[
        float,
        typer.Option(
            min=0, help="Cap on the backoff; a Retry-After from PostHog (≤120 s) still wins."
        ),
    ] = 30.0,
    request_timeout: RequestTimeoutOption = 60.0,
    state_schema: StateSchemaOption = None,
    state_file: StateFileOption = None,
    reset: ResetOption = False,
    retry_quarantined: Annotated[
        bool,
        typer.Option(
            "--retry-quarantined",
            help="First send again the rows PostHog refused in earlier runs (quarantined as "
            "rejected_by_posthog or too_large_for_posthog), e.g. once a proxy or limit is fixed; "
            "rows refused again stay quarantined.",
        ),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Send nothing, save no state; write the request bodies to files."
        ),
    ] = False,
    dry_run_dir: Annotated[
        Path | None,
        typer.Option(
            help="Where --dry-run writes bodies (default: <target-path>/posthog_dry_run)."
        ),
    ] = None,
    lookback: LookbackOption = "3d",
    shard: ShardOption = None,
    report: ReportOption = None,
    duckdb_memory_limit: DuckDBMemoryOption = "1GB",
) -> None:
    """Load the contract views into PostHog (the default when no subcommand is given)."""
    if context.invoked_subcommand is not None:
        return
    out, err = Console(), Console(stderr=True)
    scrub = Scrubber()
    warn = _warner(err, scrub)

    def start() -> ExitCode:
        check_state_location(state_file, state_schema)
        if dry_run_dir is not None and not dry_run:
            raise ConfigError("--dry-run-dir only applies with --dry-run.")
        slice_ = parse_shard(shard)
        # A dry run needs no token (its bodies carry a placeholder); a bad one is still refused.
        api_key = read_api_key(os.environ, required=not dry_run)
        if api_key is not None:
            scrub.add(api_key.reveal(), str(api_key))
        capture_host = normalize_host(host)
        check_writable(report, "--report")
        _warn_if_unencrypted(capture_host, "--host", "the project token and every event", warn)
        lane = CaptureSettings(
            api_key=api_key,
            send=SendSettings(
                host=capture_host,
                concurrency=concurrency,
                rate=slice_.share_of(rate or None),
                retry=RetryPolicy(max_retries, retry_base_delay, retry_max_delay),
                request_timeout=request_timeout,
            ),
            batch_events=batch_events,
            batch_bytes=batch_bytes,
            recent=recent,
            dry_run=dry_run,
            dry_run_dir=dry_run_dir,
            retry_quarantined=retry_quarantined,
        )
        settings = LoadSettings(
            project_dir=project_dir,
            profiles_dir=profiles_dir,
            target=target,
            models=parse_models(models),
            lane=lane,
            window_rows=window_rows,
            state_schema=state_schema,
            state_file=state_file,
            reset=reset,
            report_path=report,
            duckdb_memory_limit=duckdb_memory_limit,
            lookback=parse_duration(lookback, "--lookback"),
            shard=slice_,
        )
        return _run_lane(LoadRun(settings, out, scrub, warn), runs)

    runs: list[LoadRun] = []
    _finish_run(start, runs, out=out, err=err, scrub=scrub, report=report)


def _run_lane(run: LoadRun, runs: list[LoadRun]) -> ExitCode:
    runs.append(run)
    run.execute()
    undelivered = sum(model.undelivered for model in run.report.models) if run.report else 0
    return ExitCode.UNDELIVERED if undelivered else ExitCode.OK


def _finish_run(
    start: Callable[[], ExitCode],
    runs: list[LoadRun],
    *,
    out: Console,
    err: Console,
    scrub: Scrubber,
    report: Path | None,
) -> None:
    """Run a load or an export; print its summary, write its report and exit with its code."""
    exit_code, error_message = _guarded(
        start,
        err,
        scrub,
        bug_note="The checkpoint only ever holds acknowledged batches, so re-running is safe.",
    )
    run_report = runs[0].report if runs else None
    if run_report is not None:
        run_report.exit_code, run_report.error = int(exit_code), error_message
        run_report.print_summary(out)
    exit_code = _write_report(run_report, report, exit_code, error_message, scrub=scrub, err=err)
    raise typer.Exit(int(exit_code))


@app.command()
def export(
    *,
    to: Annotated[
        str,
        typer.Option(
            "--to",
            help="Folder, or s3://bucket/prefix (AWS or S3-compatible; credentials, region and "
            "endpoint from the standard AWS_* variables or profile). One prefix per export: "
            "PostHog's managed import takes every .gz part under it.",
        ),
    ],
    project_dir: ProjectDirOption = Path("."),
    profiles_dir: ProfilesDirOption = None,
    target: TargetOption = None,
    models: ModelsOption = ALL_MODELS,
    part_events: Annotated[
        int, typer.Option(min=1, max=5_000_000, help="Most events per part file.")
    ] = DEFAULT_PART_EVENTS,
    part_bytes: Annotated[
        int,
        typer.Option(
            min=1024,
            max=MAX_PART_BYTES,
            help="Most uncompressed bytes per part (PostHog's importer reads parts in 15 MB "
            "chunks and downloads a gzipped part whole before reading it).",
        ),
    ] = DEFAULT_PART_BYTES,
    concurrency: Annotated[
        int, typer.Option(min=1, max=32, help="Parts compressed and written at once.")
    ] = 2,
    window_rows: WindowRowsOption = None,
    state_schema: StateSchemaOption = None,
    state_file: StateFileOption = None,
    reset: ResetOption = False,
    lookback: LookbackOption = "3d",
    shard: ShardOption = None,
    report: ReportOption = None,
    duckdb_memory_limit: DuckDBMemoryOption = "1GB",
) -> None:
    """Write the contract views as gzipped JSON-lines parts for PostHog's managed import (S3
    source, content type PostHog), with a manifest; read, checkpointed, resumed and quarantined
    like a load, and sharing its checkpoint. Then create the managed migration in PostHog and run
    `load-posthog verify` (docs/managed_import.md). Exit codes: 0 all exported (or held), 1 rows
    quarantined, 2 configuration, 5 warehouse, 7 a local file not writable, 8 another run holds the
    lease, 9 the destination not writable (re-run resumes), 70 internal error, 130 interrupted."""
    out, err = Console(), Console(stderr=True)
    scrub = Scrubber()
    warn = _warner(err, scrub)

    def start() -> ExitCode:
        check_state_location(state_file, state_schema)
        check_writable(report, "--report")
        settings = LoadSettings(
            project_dir=project_dir,
            profiles_dir=profiles_dir,
            target=target,
            models=parse_models(models),
            lane=ExportSettings(
                destination=parse_destination(to),
                part_events=part_events,
                part_bytes=part_bytes,
                concurrency=concurrency,
            ),
            window_rows=window_rows,
            state_schema=state_schema,
            state_file=state_file,
            reset=reset,
            report_path=report,
            duckdb_memory_limit=duckdb_memory_limit,
            lookback=parse_duration(lookback, "--lookback"),
            shard=parse_shard(shard),
        )
        return _run_lane(LoadRun(settings, out, scrub, warn), runs)

    runs: list[LoadRun] = []
    _finish_run(start, runs, out=out, err=err, scrub=scrub, report=report)


@app.command()
def verify(
    *,
    project_dir: ProjectDirOption = Path("."),
    profiles_dir: ProfilesDirOption = None,
    target: TargetOption = None,
    api_host: Annotated[
        str,
        typer.Option(
            envvar="POSTHOG_API_HOST",
            help="PostHog's app host, where the query API is (not the capture host).",
        ),
    ] = DEFAULT_API_HOST,
    project_id: Annotated[
        str | None, typer.Option(envvar="POSTHOG_PROJECT_ID", help="PostHog project id.")
    ] = None,
    since: Annotated[
        dt.datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="First UTC day to compare (default: the first)."),
    ] = None,
    until: Annotated[
        dt.datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"],
            help="Last UTC day to compare (default: the last whole day before the 48-hour "
            "cutoff the load holds recent events back by).",
        ),
    ] = None,
    tolerance: Annotated[
        str,
        typer.Option(
            help="Allowed difference per day and event: events (5), percent (0.1%) or both "
            "(5,0.1%: whichever allows more).",
        ),
    ] = "0",
    hogql_filter: Annotated[
        str | None,
        typer.Option(
            help="Extra HogQL condition on PostHog's events, to leave out events captured live "
            "under the same names, e.g. 'properties.$heap_event_id IS NOT NULL'.",
        ),
    ] = None,
    wait: Annotated[
        str,
        typer.Option(
            help="While counts differ, ask PostHog again for this long (ingestion lags behind "
            "capture), e.g. 30m: every minute, or every tenth of the wait if shorter.",
        ),
    ] = "0",
    warnings_since: Annotated[
        str,
        typer.Option(
            help="Report PostHog's ingestion warnings raised since then: when the import ran, as a "
            "UTC day (2026-11-20) or a duration before now (30d). PostHog stamps a warning when "
            "ingestion raises it, not with the event's own time.",
        ),
    ] = "30d",
    request_timeout: RequestTimeoutOption = 120.0,
    state_schema: StateSchemaOption = None,
    state_file: StateFileOption = None,
    report: ReportOption = None,
) -> None:
    """Compare posthog_events with PostHog's events, per UTC day and event name, through PostHog's
    query API (personal API key from POSTHOG_PERSONAL_API_KEY). Exit codes: 0 counts match within
    --tolerance, 6 they differ, 2 configuration, 3 key refused, 4 PostHog unreachable, 5
    warehouse, 70 internal error."""
    out, err = Console(), Console(stderr=True)
    scrub = Scrubber()
    warn = _warner(err, scrub)
    run: VerifyRun | None = None

    def start() -> ExitCode:
        nonlocal run
        check_state_location(state_file, state_schema)
        personal_key = read_personal_api_key(os.environ)
        scrub.add(personal_key.reveal(), str(personal_key))
        query_host = normalize_api_host(api_host)
        check_writable(report, "--report")
        _warn_if_unencrypted(query_host, "--api-host", "the personal API key", warn)
        settings = VerifySettings(
            project_dir=project_dir,
            profiles_dir=profiles_dir,
            target=target,
            state_schema=state_schema,
            state_file=state_file,
            api_host=query_host,
            project_id=parse_project_id(project_id),
            personal_key=personal_key,
            since=since.date() if since else None,
            until=until.date() if until else None,
            tolerance=parse_tolerance(tolerance),
            hogql_filter=hogql_filter.strip() if hogql_filter and hogql_filter.strip() else None,
            wait=parse_duration(wait, "--wait"),
            warnings_since=parse_warnings_since(
                warnings_since, dt.datetime.now(dt.UTC).replace(tzinfo=None)
            ),
            request_timeout=request_timeout,
            report_path=report,
        )
        if settings.since and settings.until and settings.since > settings.until:
            raise ConfigError(f"--since {settings.since} is after --until {settings.until}.")
        run = VerifyRun(settings, out, scrub, warn=warn)
        return run.execute()

    exit_code, error_message = _guarded(
        start, err, scrub, bug_note="verify only reads: running it again is safe."
    )
    exit_code = _write_report(
        run.report if run else None, report, exit_code, error_message, scrub=scrub, err=err
    )
    raise typer.Exit(int(exit_code))


def _warner(err: Console, scrub: Scrubber) -> Callable[[str], None]:
    def warn(message: str) -> None:
        err.print(
            f"load-posthog: warning: {scrub(message)}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )

    return warn


def _warn_if_unencrypted(url: str, flag: str, what: str, warn: Callable[[str], None]) -> None:
    if unencrypted_remote(url):
        warn(
            f"{flag} {url} is plain http:// to another machine: {what} would cross the network "
            "unencrypted. Use https://."
        )


def _guarded(
    action: Callable[[], ExitCode], err: Console, scrub: Scrubber, *, bug_note: str
) -> tuple[ExitCode, str | None]:
    """Run a command; a failure becomes its exit code and a one-paragraph message on stderr, both
    scrubbed of secrets."""
    try:
        return action(), None
    except LoaderError as error:
        message = scrub(str(error))
        err.print(f"load-posthog: {message}", markup=False, highlight=False, soft_wrap=True)
        return error.exit_code, message
    except Exception as error:
        err.print(scrub(traceback.format_exc()), markup=False, highlight=False)
        err.print(f"load-posthog hit a bug (exit 70). {bug_note}", markup=False)
        return ExitCode.INTERNAL, scrub(f"internal error: {error!r}")


class _Report(Protocol):
    exit_code: int | None
    error: str | None
    finished_at: dt.datetime | None

    def to_dict(self) -> dict[str, Any]: ...


def _write_report(
    report: _Report | None,
    path: Path | None,
    exit_code: ExitCode,
    error: str | None,
    *,
    scrub: Scrubber,
    err: Console,
) -> ExitCode:
    """Write the JSON report (scrubbed); the exit code, or LOCAL_WRITE if it could not be written."""
    if report is not None:
        report.exit_code, report.error = int(exit_code), error
        report.finished_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    if path is None:
        return exit_code
    # Failed before it began: still leave a report a scheduler can read.
    content = (
        report.to_dict() if report is not None else {"exit_code": int(exit_code), "error": error}
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(orjson.dumps(scrub.data(content), option=orjson.OPT_INDENT_2))
    except OSError as failure:
        err.print(
            f"load-posthog: the report could not be written to {path} ({failure.strerror}).",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        return exit_code or ExitCode.LOCAL_WRITE
    return exit_code


def main() -> None:
    app()
