"""The export sink: each batch becomes one gzipped JSON-lines part of PostHog's `posthog` content type
(one event per line, the view's payload bytes as they are: uuid, event, distinct_id, timestamp,
properties with any `$set`/`$set_once`), written whole or not at all, and recorded in the manifest.

A batch's part key comes from its first row, so a run resumed after a crash cuts the same batches
from the checkpoint on and overwrites, never duplicates, the parts the crash left unrecorded; parts of
this shard that no manifest names (written after the last save) are removed before anything new is
written.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import threading
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace

import pyarrow as pa
import pyarrow.compute as pc
from isal import igzip

from posthog_loader.batching import Batch, BatchLimits
from posthog_loader.errors import ConfigError
from posthog_loader.export.destination import Destination
from posthog_loader.export.manifest import (
    Manifest,
    ModelSummary,
    PartEntry,
    manifest_key,
    model_folder,
    part_key,
    part_pattern,
)
from posthog_loader.report import ModelReport
from posthog_loader.rows import json_lines, split_malformed
from posthog_loader.sharding import Shard
from posthog_loader.sink import Delivery, PreparedBatch, SendingHaltedError, Sink
from posthog_loader.state.base import utc_now

# ISA-L level 1, as for capture requests: about zlib level 1's size at a fraction of its CPU.
GZIP_LEVEL = 1


@dataclass(frozen=True)
class Compressed:
    data: bytes
    sha256: bytes


@dataclass(frozen=True)
class PartContent:
    key: str
    # Gzipped on a compressor thread from the moment the part is cut: a part waiting for its turn
    # to be written is held compressed (about a seventh of --part-bytes), not as its lines.
    compressed: Future[Compressed]
    uncompressed_bytes: int
    events: int
    first_timestamp: dt.datetime
    last_timestamp: dt.datetime
    events_by_name: Counter[str]


def _names(rows: pa.Table) -> Counter[str]:
    counts = pc.value_counts(rows.column("event"))
    return Counter(
        dict(
            zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True)
        )
    )


def _compress(lines: bytearray) -> Compressed:
    """Gzip and hash a part's lines (ISA-L and hashlib release the GIL: this runs beside the
    reader)."""
    data = igzip.compress(lines, GZIP_LEVEL, mtime=0)
    return Compressed(data, hashlib.sha256(data).digest())


def _position_text(timestamp: dt.datetime, uuid: str | None) -> str:
    return f"{timestamp.isoformat()} {uuid or ''}"


class PartSink(Sink[PartContent]):
    def __init__(
        self,
        destination: Destination,
        manifest: Manifest,
        *,
        shard: Shard,
        limits: BatchLimits,
        concurrency: int,
    ) -> None:
        self._destination = destination
        self._manifest = manifest
        self._shard = shard
        self.limits = limits
        self.concurrency = concurrency
        self._pool = ThreadPoolExecutor(concurrency, "posthog-export-write")
        # Compression has threads of its own, so a slow destination never leaves parts waiting
        # uncompressed behind its writes.
        self._compressors = ThreadPoolExecutor(concurrency, "posthog-export-compress")
        self._report: ModelReport | None = None
        self._written: dict[int, PartEntry] = {}
        self._outcomes: dict[str, str] = {}
        self._dirty = True
        self._halted = False
        # The manifest changes on the event loop and is saved from the state thread.
        self._lock = threading.Lock()

    def reset_models(self, models: tuple[str, ...]) -> None:
        """--reset: this destination's parts of these models go with their checkpoint."""
        with self._lock:
            for model in models:
                self._destination.delete(self._manifest.drop_model(model))
            self._manifest.finished_at = None
            self._dirty = True

    def begin_model(self, report: ModelReport) -> None:
        model = report.model
        if self._manifest.finished_at is not None and report.rows_planned:
            raise ConfigError(
                f"{self._destination.url} holds a finished export "
                f"({manifest_key(self._shard)}, {self._manifest.finished_at:%Y-%m-%d %H:%M} UTC), "
                f"and {report.rows_planned:,} new {model} rows are ready. PostHog's managed import "
                "takes every .gz part under a prefix, so new parts there would be imported again "
                "with the old ones: export them to a new prefix (e.g. one per date), or add "
                "--reset to export everything again into this one."
            )
        self._report = report
        with self._lock:
            summary = self._manifest.models.get(model)
            if summary is None:
                summary = self._manifest.models[model] = ModelSummary(
                    relation=report.relation,
                    before_destination=report.checkpoint_before.rows_delivered,
                )
            summary.status = "running"
            summary.held, summary.missing_timestamp = report.held, report.missing_timestamp
        # Parts of this shard that no manifest names: written by a run that stopped before saving.
        pattern = part_pattern(model, self._shard)
        named = self._manifest.part_keys(model)
        leftovers = [
            key
            for key in self._destination.keys(model_folder(model) + "/")
            if pattern.match(key) and key not in named
        ]
        self._destination.delete(leftovers)
        self._dirty = True

    def prepare(self, batch: Batch) -> PreparedBatch[PartContent]:
        assert self._report is not None
        rows, quarantined = batch.rows, list(batch.quarantined)
        lines = json_lines(rows.column("payload").cast(pa.binary()))
        if lines is None:
            rows, malformed = split_malformed(rows, one_line=True)
            quarantined += malformed
            lines = json_lines(rows.column("payload").cast(pa.binary()))
            assert lines is not None
        keys = rows.drop_columns(["payload"])
        batch = replace(batch, rows=keys, quarantined=quarantined)
        if not keys.num_rows:
            return PreparedBatch(batch, None)
        timestamps = keys.column("timestamp")
        first, last = timestamps[0].as_py(), timestamps[-1].as_py()
        key = part_key(
            self._report.model, batch.day, first, keys.column("uuid")[0].as_py(), self._shard
        )
        compressed = self._compressors.submit(_compress, lines)
        return PreparedBatch(
            batch,
            PartContent(key, compressed, len(lines), keys.num_rows, first, last, _names(keys)),
        )

    def _write(self, key: str, compressed: Compressed) -> None:
        self._destination.put(key, compressed.data, compressed.sha256)

    async def deliver(self, prepared: PreparedBatch[PartContent], label: str) -> Delivery:
        if self._halted:
            raise SendingHaltedError
        assert self._report is not None
        batch, content = prepared.batch, prepared.content
        delivery = Delivery(quarantined=list(batch.quarantined))
        size, sha256 = 0, None
        if content is not None:
            compressed = await asyncio.wrap_future(content.compressed)
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._pool, self._write, content.key, compressed)
            size, sha256 = len(compressed.data), compressed.sha256.hex()
            delivery.delivered = content.events
            delivery.events_by_name = content.events_by_name
            delivery.requests = 1
            delivery.wire_bytes = size
        reasons = Counter(str(row.reason) for row in delivery.quarantined)
        self._written[batch.seq] = PartEntry(
            model=self._report.model,
            day=batch.day.isoformat(),
            start=_position_text(batch.first_timestamp, batch.start_uuid),
            key=content.key if content else None,
            events=content.events if content else 0,
            quarantined=dict(reasons),
            first_timestamp=content.first_timestamp.isoformat() if content else None,
            last_timestamp=content.last_timestamp.isoformat() if content else None,
            bytes=size,
            uncompressed_bytes=content.uncompressed_bytes if content else 0,
            sha256=sha256,
        )
        return delivery

    def acknowledged(self, batch: Batch, delivery: Delivery) -> None:
        with self._lock:
            self._manifest.add(self._written.pop(batch.seq))
            self._dirty = True

    def persist(self) -> None:
        with self._lock:
            if not self._dirty:
                return
            self._manifest.updated_at = utc_now()
            document = self._manifest.to_json()
            self._dirty = False
        self._destination.put(manifest_key(self._shard), document)

    def end_model(self, model: str, outcome: str) -> None:
        with self._lock:
            self._written.clear()
            self._manifest.models[model].status = outcome
            self._outcomes[model] = outcome
            self._dirty = True

    def halt(self) -> None:
        self._halted = True

    async def aclose(self) -> None:
        """The last manifest save: `finished_at` once every model of the run is complete."""
        if self._outcomes and all(outcome == "complete" for outcome in self._outcomes.values()):
            with self._lock:
                self._manifest.finished_at = utc_now()
                self._dirty = True
        try:
            await asyncio.get_running_loop().run_in_executor(self._pool, self.persist)
        finally:
            self._compressors.shutdown(wait=True, cancel_futures=True)
            self._pool.shutdown(wait=True)
            self._destination.close()
