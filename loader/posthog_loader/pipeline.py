"""Run a load: the selected models in canonical order, each read in (timestamp, uuid) order, cut into
batches, handed to the lane's sink concurrently, and checkpointed as the sink acknowledges them."""

import asyncio
import contextlib
import datetime as dt
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa
from rich.console import Console

from posthog_loader.batching import Batch, Batcher, BatchLimits
from posthog_loader.checkpoint import CheckpointWriter, PrefixTracker, record_entries
from posthog_loader.config import (
    API_KEY_PLACEHOLDER,
    HISTORICAL_MIN_AGE,
    MODEL_VIEWS,
    CaptureSettings,
    ExportSettings,
    LoadSettings,
    RecentMode,
)
from posthog_loader.dbt import Relation, load_project_target, load_relations
from posthog_loader.errors import (
    ConfigError,
    ExitCode,
    InterruptedLoadError,
    LoaderError,
    NotBuiltError,
)
from posthog_loader.export.destination import open_destination
from posthog_loader.export.manifest import Manifest, manifest_key
from posthog_loader.export.sink import PartSink
from posthog_loader.pacing import Pacer, describe_budget
from posthog_loader.progress import LoadProgress, make_progress
from posthog_loader.read import ModelReader, Position, ReadPlan, Revisit, RowFilter
from posthog_loader.report import ModelReport, RunReport
from posthog_loader.scrub import Scrubber
from posthog_loader.send import DryRunTransport, HttpTransport, Sender
from posthog_loader.sharding import Shard, shard_filter
from posthog_loader.sink import Delivery, PreparedBatch, SendingHaltedError, Sink
from posthog_loader.state import Checkpoint, StateStore, open_store
from posthog_loader.sync import SyncPolicy, policies
from posthog_loader.warehouse import Warehouse, connect, relation_sql

# Batches encoded and waiting for a free request slot.
PREPARED_AHEAD = 2
T = TypeVar("T")
# Error kinds in the order the user should hear about them when several happen at once.
_ERROR_PRIORITY = (ExitCode.TOKEN_REFUSED, ExitCode.WAREHOUSE, ExitCode.POSTHOG_UNAVAILABLE)


def _primary_error(group: BaseExceptionGroup) -> BaseException:
    """The one exception worth reporting out of those raised by concurrent tasks."""
    leaves: list[BaseException] = []

    def collect(error: BaseException) -> None:
        if isinstance(error, BaseExceptionGroup):
            for inner in error.exceptions:
                collect(inner)
        elif not isinstance(error, SendingHaltedError):
            leaves.append(error)

    collect(group)
    loader_errors = [error for error in leaves if isinstance(error, LoaderError)]
    for code in _ERROR_PRIORITY:
        for error in loader_errors:
            if error.exit_code == code:
                return error
    return (loader_errors or leaves or [group])[0]


class LoadRun:
    """One invocation of load-posthog. `report` fills in as the run goes, even if it fails."""

    def __init__(
        self,
        settings: LoadSettings,
        console: Console,
        scrub: Scrubber,
        warn: Callable[[str], None],
    ) -> None:
        self._settings = settings
        self._console = console
        self._scrub = scrub
        self._warn = warn
        self.report: RunReport | None = None

    def execute(self) -> None:
        settings = self._settings
        project, target = load_project_target(
            settings.project_dir, settings.profiles_dir, settings.target
        )
        self._scrub.add_profile_secrets(target.settings, f"{target.profile}.{target.name}")
        views = [MODEL_VIEWS[model] for model in settings.models]
        relations = load_relations(project, target, views)
        target_name = f"{target.profile}.{target.name} ({target.type})"
        # Before any state changes: a destination that cannot be written stops the run here.
        part_sink = (
            _open_part_sink(settings, settings.lane, target_name)
            if isinstance(settings.lane, ExportSettings)
            else None
        )
        warehouse = connect(
            target,
            # With no state in the warehouse, DuckDB can share its file with other readers.
            read_only=settings.dry_run or settings.state_file is not None,
            duckdb_memory_limit=settings.duckdb_memory_limit,
        )
        with contextlib.closing(warehouse), contextlib.ExitStack() as leases:
            if settings.shard.sharded:
                _check_shard_keys(warehouse, [relations[view] for view in views])
            store = open_store(
                warehouse,
                state_file=settings.state_file,
                state_schema=settings.state_schema,
                warn=self._warn,
            )
            if not settings.dry_run:
                store.prepare()
                # Before anything is reset or sent: one run at a time per model and shard.
                store.claim([(model, settings.shard.key) for model in settings.models])
                leases.callback(_release, store)
                if settings.reset:
                    store.reset(settings.models, settings.shard)
            if not (settings.dry_run and settings.reset):
                _refuse_another_split(store, settings.models, settings.shard)
            now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            lane = settings.lane
            capture = isinstance(lane, CaptureSettings)
            self.report = RunReport(
                lane="capture" if capture else "export",
                host=lane.send.host if capture else None,
                destination=None if capture else lane.destination.url,
                dry_run=settings.dry_run,
                target=target_name,
                # The managed import takes events 48 h old or older, like capture's historical lane.
                recent_mode=str(lane.recent if capture else RecentMode.HOLD),
                recent_cutoff=now - HISTORICAL_MIN_AGE,
                shard=settings.shard.key,
                state=store.description,
                quarantine=store.quarantine_location,
                started_at=now,
                models=[
                    ModelReport(model, relation_sql(relations[view], warehouse))
                    for model, view in zip(settings.models, views, strict=True)
                ],
            )
            asyncio.run(self._load_all(warehouse, store, project.target_dir, part_sink))

    def _open_sender(
        self, lane: CaptureSettings, target_dir: Path, progress: LoadProgress, rate: float | None
    ) -> Sender:
        if lane.dry_run:
            dry_run_dir = lane.dry_run_dir or target_dir / "posthog_dry_run"
            _clear_dry_run_files(dry_run_dir, self._settings.models)
            transport: DryRunTransport | HttpTransport = DryRunTransport(dry_run_dir)
            api_key = API_KEY_PLACEHOLDER
        else:
            assert lane.api_key is not None
            transport = HttpTransport(lane.send)
            api_key = lane.api_key.reveal()
        return Sender(
            transport,
            api_key,
            lane.send,
            BatchLimits(lane.batch_events, lane.batch_bytes),
            pacer=Pacer(rate),
            on_retry=progress.note,
            scrub=self._scrub,
        )

    async def _load_all(
        self,
        warehouse: Warehouse,
        store: StateStore,
        target_dir: Path,
        part_sink: PartSink | None,
    ) -> None:
        settings = self._settings
        assert self.report is not None
        lane = settings.lane
        sink: Sink[Any]
        if isinstance(lane, CaptureSettings):
            # A dry run writes files: nothing reaches PostHog, so nothing is paced.
            rate = None if lane.dry_run else lane.send.rate
            if not lane.dry_run:
                self._console.print(
                    describe_budget(rate, settings.shard.count), soft_wrap=True, highlight=False
                )
            progress = make_progress(self._console, rate)
            sink = self._open_sender(lane, target_dir, progress, rate)
        else:
            assert part_sink is not None
            progress, sink = make_progress(self._console), part_sink
        loop = asyncio.get_running_loop()
        main_task = asyncio.current_task()
        assert main_task is not None
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, main_task.cancel)
        try:
            with (
                ThreadPoolExecutor(1, "posthog-loader-read") as reader_pool,
                ThreadPoolExecutor(1, "posthog-loader-state") as state_pool,
                _LeaseRenewal(store, state_pool, enabled=not settings.dry_run),
            ):
                sync = policies(settings.lookback)
                for model_report in self.report.models:
                    await _ModelLoad(
                        settings,
                        warehouse=warehouse,
                        store=store,
                        sink=sink,
                        progress=progress,
                        report=model_report,
                        policy=sync[model_report.model],
                        recent_from=self.report.recent_cutoff,
                        reader_pool=reader_pool,
                        state_pool=state_pool,
                    ).run()
        except _LeaseLost as lost:
            raise lost.error from None
        except asyncio.CancelledError:
            raise InterruptedLoadError(
                "Interrupted. The checkpoint holds every acknowledged batch: run the same command "
                "to resume."
            ) from None
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
            progress.close()
            await sink.aclose()


def _open_part_sink(settings: LoadSettings, lane: ExportSettings, target: str) -> PartSink:
    destination = open_destination(lane.destination)
    key = manifest_key(settings.shard)
    existing = destination.get(key)
    manifest = (
        Manifest.from_json(existing, destination.location(key))
        if existing is not None
        else Manifest(
            destination.url,
            settings.shard.key,
            target,
            created_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
        )
    )
    sink = PartSink(
        destination,
        manifest,
        shard=settings.shard,
        limits=BatchLimits(lane.part_events, lane.part_bytes),
        concurrency=lane.concurrency,
    )
    if settings.reset:
        sink.reset_models(settings.models)
    return sink


class _LeaseLost(Exception):
    def __init__(self, error: LoaderError) -> None:
        super().__init__(str(error))
        self.error = error


class _LeaseRenewal:
    """Renews the run's leases in the background while it loads; if one is lost, the run stops
    (its main task is cancelled and the loss raised in its place)."""

    def __init__(self, store: StateStore, pool: ThreadPoolExecutor, *, enabled: bool) -> None:
        self._store = store
        self._pool = pool
        self._interval = store.lease_renew_interval if enabled else None
        self._task: asyncio.Task[None] | None = None
        self._main: asyncio.Task[Any] | None = None
        self._lost: LoaderError | None = None

    def __enter__(self) -> None:
        if self._interval:
            self._main = asyncio.current_task()
            self._task = asyncio.create_task(self._renew_periodically(self._interval))

    def __exit__(self, *exc_info: object) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._lost is not None:
            raise _LeaseLost(self._lost)

    async def _renew_periodically(self, interval: float) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(interval)
            try:
                await loop.run_in_executor(self._pool, self._store.renew)
            except LoaderError as error:
                self._lost = error
                if self._main is not None:
                    self._main.cancel()
                return


def _release(store: StateStore) -> None:
    with contextlib.suppress(LoaderError):  # a lease not given back expires anyway
        store.release()


def _check_shard_keys(warehouse: Warehouse, relations: list[Relation]) -> None:
    for relation in relations:
        columns = warehouse.column_names(relation.database, relation.schema, relation.identifier)
        if "shard_key" not in columns:
            raise NotBuiltError(
                f"--shard reads the shard_key column, which {relation_sql(relation, warehouse)} "
                "does not have: the contract views gained it in a later version of the models. "
                "Run `dbt build` with this project's models, then load again."
            )


def _refuse_another_split(store: StateStore, models: tuple[str, ...], shard: Shard) -> None:
    """State saved under another --shard n (or unsharded) covers the same rows under other keys:
    loading now would send them again."""
    for model in models:
        others = sorted(key for key in store.shard_keys(model) if not shard.same_split(key))
        if others:
            split = f"--shard i/{shard.count}" if shard.sharded else "unsharded"
            raise ConfigError(
                f"{model} has state saved under {', '.join(others)}, another way of splitting it "
                f"than this run's ({split}): loading would send those rows again. Keep the "
                "earlier split, or add --reset to forget that state and start over under this one."
            )


def _clear_dry_run_files(directory: Path, models: tuple[str, ...]) -> None:
    """Remove an earlier dry run's bodies for these models, so the folder shows this run only."""
    for model in models:
        for stale in directory.glob(f"{model}-[0-9]*.json"):
            stale.unlink()


class _ModelLoad:
    def __init__(
        self,
        settings: LoadSettings,
        *,
        warehouse: Warehouse,
        store: StateStore,
        sink: Sink[Any],
        progress: LoadProgress,
        report: ModelReport,
        policy: SyncPolicy,
        recent_from: dt.datetime,
        reader_pool: ThreadPoolExecutor,
        state_pool: ThreadPoolExecutor,
    ) -> None:
        self._settings = settings
        self._policy = policy
        self._shard: Shard = settings.shard
        self._warehouse = warehouse
        self._store = store
        self._sink = sink
        self._progress = progress
        self._report = report
        self._model = report.model
        self._recent_from = recent_from
        self._hold_recent = (
            not isinstance(settings.lane, CaptureSettings)
            or settings.lane.recent is RecentMode.HOLD
        )
        self._reader_pool = reader_pool
        self._state_pool = state_pool

    @staticmethod
    async def _in_thread(pool: ThreadPoolExecutor, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(pool, function, *args)

    async def run(self) -> None:
        report = self._report
        report.status = "running"
        try:
            await self._load()
        except asyncio.CancelledError:
            report.status = "interrupted"
            raise
        except BaseException:
            report.status = "failed"
            raise
        report.status = "complete"

    async def _load(self) -> None:
        settings, report, key = self._settings, self._report, self._shard.key
        lane = settings.lane
        if isinstance(lane, CaptureSettings) and lane.retry_quarantined and not settings.reset:
            await self._send_refused_again()
        if settings.dry_run and settings.reset:
            # Preview a fresh load without clearing anything.
            start, exclusion = Checkpoint(), None
        else:
            start = await self._in_thread(self._state_pool, self._store.load, self._model, key)
            exclusion = await self._in_thread(
                self._state_pool, self._store.exclusion, self._model, key
            )
        report.checkpoint_before = report.checkpoint_after = start
        report.revisit = self._policy.revisit(start)
        reader = self._reader(after=start.position, revisit=report.revisit, row_filter=exclusion)
        plan = await self._in_thread(self._reader_pool, reader.plan)
        report.planned(plan, hold_recent=self._hold_recent)
        writer = self._writer(start)
        writer.record_from(self._policy.recorded_from(start, plan))
        await writer.flush()  # before anything is sent: the record's bound must hold
        started = time.monotonic()
        self._sink.begin_model(report)
        outcome = "failed"
        try:
            outcome = await self._send_rows(reader, plan, writer, self._model)
        finally:
            report.duration_seconds += time.monotonic() - started
            self._sink.end_model(self._model, outcome)
            forget = None
            if outcome == "complete":
                forget = self._policy.forget(writer.checkpoint, report.relation)
            await writer.flush(forget)
            report.checkpoint_after = writer.checkpoint

    async def _send_refused_again(self) -> None:
        """--retry-quarantined: the rows PostHog refused in earlier runs, wherever they sit, out
        of the quarantine and to PostHog again (refused again, they go back into it)."""
        key = self._shard.key
        refused = await self._in_thread(self._state_pool, self._store.refused, self._model, key)
        if refused is None:
            return
        start = await self._in_thread(self._state_pool, self._store.load, self._model, key)
        reader = self._reader(after=None, revisit=None, row_filter=refused)
        plan = await self._in_thread(self._reader_pool, reader.plan)
        writer = self._writer(start, releasing=True)
        started, read_before = time.monotonic(), self._report.rows_read
        try:
            await self._send_rows(reader, plan, writer, f"{self._model} (quarantined)")
        finally:
            self._report.retried_quarantined = self._report.rows_read - read_before
            self._report.duration_seconds += time.monotonic() - started
            await writer.flush()

    def _reader(
        self, *, after: Position | None, revisit: Revisit | None, row_filter: RowFilter | None
    ) -> ModelReader:
        return ModelReader(
            self._warehouse,
            self._report.relation,
            after=after,
            revisit=revisit,
            filters=[
                condition
                for condition in (shard_filter(self._shard, self._warehouse), row_filter)
                if condition is not None
            ],
            recent_from=self._recent_from,
            hold_recent=self._hold_recent,
            window_rows=self._settings.window_rows or self._warehouse.default_window_rows,
        )

    def _writer(self, start: Checkpoint, *, releasing: bool = False) -> CheckpointWriter:
        return CheckpointWriter(
            self._store,
            self._model,
            self._shard.key,
            start,
            interval=self._store.checkpoint_interval,
            executor=self._state_pool,
            enabled=not self._settings.dry_run,
            before_save=self._sink.persist,
            releasing=releasing,
        )

    async def _send_rows(
        self, reader: ModelReader, plan: ReadPlan, writer: CheckpointWriter, label: str
    ) -> str:
        """Read, batch and deliver the planned rows; the outcome: complete (else it raises)."""
        self._progress.start_model(label, plan.rows)
        batcher = Batcher(
            self._sink.limits, live_from=None if self._hold_recent else self._recent_from
        )
        batches = batcher.batches(reader.read(plan))
        # Batching, checking and encoding happen on the reader's thread; the event loop sends.
        prepared = map(self._sink.prepare, batches)
        outcome = "failed"
        try:
            await self._pump(prepared, writer, label)
            outcome = "complete"
        except asyncio.CancelledError:
            outcome = "interrupted"
            raise
        finally:
            if outcome != "complete":
                self._sink.halt()
            # The generator belongs to the reader thread: close it there, after its current read.
            await self._in_thread(self._reader_pool, batches.close)
            self._progress.finish_model(label, outcome)
        return outcome

    async def _pump(
        self, prepared: Iterator[PreparedBatch[Any]], writer: CheckpointWriter, label: str
    ) -> None:
        # The reader prepares the next batches while earlier ones are on the wire; two ready
        # ones absorb its jitter, more would only hold memory.
        queue: asyncio.Queue[PreparedBatch[Any] | None] = asyncio.Queue(maxsize=PREPARED_AHEAD)
        slots = asyncio.Semaphore(self._sink.concurrency)
        tracker: PrefixTracker[tuple[Batch, Delivery, pa.Table]] = PrefixTracker()
        in_flight: set[asyncio.Task[None]] = set()

        async def produce() -> None:
            while True:
                ready = await self._in_thread(self._reader_pool, next, prepared, None)
                await queue.put(ready)
                if ready is None:
                    return

        async def deliver(ready: PreparedBatch[Any]) -> None:
            batch = ready.batch
            try:
                delivery = await self._sink.deliver(ready, f"{self._model}-{batch.seq:06d}")
            finally:
                slots.release()
            self._report.delivered(batch, delivery)
            self._progress.advance(label, delivery.delivered + len(delivery.quarantined))
            recorded = record_entries(batch.rows, delivery.quarantined)
            for done, outcome, entries in tracker.complete(batch.seq, (batch, delivery, recorded)):
                self._sink.acknowledged(done, outcome)
                writer.acknowledge(done.end, outcome.delivered, outcome.quarantined, entries)

        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(produce())
                flusher = group.create_task(writer.run_periodically())
                while (ready := await queue.get()) is not None:
                    self._report.read(ready.batch)
                    await slots.acquire()
                    task = group.create_task(deliver(ready))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                while in_flight:
                    await asyncio.wait(set(in_flight))
                flusher.cancel()
        except BaseExceptionGroup as group:
            raise _primary_error(group) from None
