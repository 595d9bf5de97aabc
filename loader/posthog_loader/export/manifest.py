"""Part names and the manifest of an export.

Part keys sort, byte for byte, in the order PostHog must ingest them: PostHog's S3 source lists every
key ending in `.gz` under the prefix (ListObjectsV2: lexicographic order) and imports the parts one
after the other. So a key is `<n>-<model>/<UTC day>/<first timestamp>-<first uuid>[.shard-i-of-n]
.jsonl.gz`: models in the canonical order (identity links, then persons, then events), days oldest
first, and within a day parts in time order, shards interleaved.

The manifest (`manifest.json`, or `manifest.shard-i-of-n.json` per shard) is JSON, not gzip, so the
importer skips it. It lists every finished part (events, first and last timestamp, bytes, sha256 of
the object) and the totals that reconcile with the views. It is rewritten before every checkpoint
save, so it names at least what the checkpoint has passed.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from posthog_loader.config import MODEL_VIEWS
from posthog_loader.errors import ConfigError
from posthog_loader.sharding import Shard

FORMAT = "posthog-migrate export"
VERSION = 1
# PostHog's managed-import content type for files of PostHog-shaped events, one per line.
CONTENT_TYPE = "posthog"
PART_SUFFIX = ".jsonl.gz"


def model_folder(model: str) -> str:
    """`1-aliases`, `2-persons`, `3-events`: the canonical order, spelled so it sorts."""
    return f"{list(MODEL_VIEWS).index(model) + 1}-{model}"


def shard_suffix(shard: Shard) -> str:
    return f".shard-{shard.index}-of-{shard.count}" if shard.sharded else ""


def manifest_key(shard: Shard) -> str:
    return f"manifest{shard_suffix(shard)}.json"


def part_key(model: str, day: dt.date, first: dt.datetime, uuid: str, shard: Shard) -> str:
    stamp = first.strftime("%Y%m%dT%H%M%S%fZ")
    return (
        f"{model_folder(model)}/{day.isoformat()}/{stamp}-{uuid}{shard_suffix(shard)}{PART_SUFFIX}"
    )


def part_pattern(model: str, shard: Shard) -> re.Pattern[str]:
    """Keys of parts this shard writes for `model` (and no one else's)."""
    return re.compile(
        rf"^{re.escape(model_folder(model))}/\d{{4}}-\d{{2}}-\d{{2}}/\d{{8}}T\d{{12}}Z-"
        rf"[0-9a-fA-F-]{{36}}{re.escape(shard_suffix(shard))}{re.escape(PART_SUFFIX)}$"
    )


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


@dataclass
class PartEntry:
    """One batch of a model as the export left it: a file with its valid rows (`key`), or none
    when every row was quarantined. `start` (the batch's first row) identifies it across runs."""

    model: str
    day: str
    start: str
    key: str | None
    events: int
    quarantined: dict[str, int]
    first_timestamp: str | None
    last_timestamp: str | None
    bytes: int
    uncompressed_bytes: int
    sha256: str | None

    def to_dict(self) -> dict[str, Any]:
        entry = asdict(self)
        if not self.quarantined:
            del entry["quarantined"]
        return entry


@dataclass
class ModelSummary:
    relation: str
    status: str = "not_started"
    # Rows read but not exported for good reasons, as of the latest run.
    held: int = 0
    missing_timestamp: int = 0
    # Rows handed over before the first run into this destination (by capture or another export).
    before_destination: int = 0


@dataclass
class Manifest:
    destination: str
    shard: str
    target: str
    created_at: dt.datetime
    updated_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    models: dict[str, ModelSummary] = field(default_factory=dict)
    parts: dict[tuple[str, str], PartEntry] = field(default_factory=dict)

    def add(self, entry: PartEntry) -> None:
        """Record a batch (replacing the entry a crashed run left for the same batch)."""
        self.parts[(entry.model, entry.start)] = entry

    def drop_model(self, model: str) -> list[str]:
        """Forget a model's parts (--reset); returns their keys, to delete."""
        keys = [entry.key for entry in self.parts.values() if entry.model == model and entry.key]
        self.parts = {key: entry for key, entry in self.parts.items() if key[0] != model}
        self.models.pop(model, None)
        return keys

    def part_keys(self, model: str) -> set[str]:
        return {e.key for e in self.parts.values() if e.model == model and e.key is not None}

    def totals(self, model: str | None = None) -> dict[str, Any]:
        entries = [e for e in self.parts.values() if model is None or e.model == model]
        quarantined: dict[str, int] = {}
        for entry in entries:
            for reason, count in entry.quarantined.items():
                quarantined[reason] = quarantined.get(reason, 0) + count
        return {
            "parts": sum(1 for e in entries if e.key),
            "events": sum(e.events for e in entries),
            "quarantined": sum(quarantined.values()),
            "quarantined_by_reason": dict(sorted(quarantined.items())),
            "bytes": sum(e.bytes for e in entries),
            "uncompressed_bytes": sum(e.uncompressed_bytes for e in entries),
        }

    def to_json(self) -> bytes:
        ordered = sorted(self.parts.values(), key=lambda e: (e.key is None, e.key or "", e.start))
        models = {}
        for name in MODEL_VIEWS:
            if name in self.models:
                summary = self.models[name]
                totals = self.totals(name)
                totals.pop("bytes"), totals.pop("uncompressed_bytes")
                models[name] = {
                    **asdict(summary),
                    **totals,
                    "first_timestamp": min(
                        (
                            e.first_timestamp
                            for e in ordered
                            if e.model == name and e.first_timestamp
                        ),
                        default=None,
                    ),
                    "last_timestamp": max(
                        (e.last_timestamp for e in ordered if e.model == name and e.last_timestamp),
                        default=None,
                    ),
                }
        document = {
            "format": FORMAT,
            "version": VERSION,
            "content_type": CONTENT_TYPE,
            "destination": self.destination,
            "shard": self.shard,
            "target": self.target,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "finished_at": _iso(self.finished_at),
            "totals": self.totals(),
            "models": models,
            "parts": [entry.to_dict() for entry in ordered],
        }
        return orjson.dumps(document, option=orjson.OPT_INDENT_2)

    @classmethod
    def from_json(cls, data: bytes, where: str) -> Manifest:
        try:
            document = orjson.loads(data)
            if document.get("format") != FORMAT or document.get("version") != VERSION:
                raise ValueError("not a posthog-migrate export manifest of this version")
            manifest = cls(
                destination=document["destination"],
                shard=document["shard"],
                target=document["target"],
                created_at=dt.datetime.fromisoformat(document["created_at"]),
                updated_at=_parse(document.get("updated_at")),
                finished_at=_parse(document.get("finished_at")),
            )
            for name, summary in document["models"].items():
                manifest.models[name] = ModelSummary(
                    relation=summary["relation"],
                    status=summary["status"],
                    held=summary["held"],
                    missing_timestamp=summary["missing_timestamp"],
                    before_destination=summary["before_destination"],
                )
            for entry in document["parts"]:
                manifest.add(PartEntry(**{"quarantined": {}, **entry}))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            raise ConfigError(
                f"{where} is not a manifest this loader can continue ({error}). Export to an "
                "empty folder or prefix, or remove that file if the export it described is gone."
            ) from None
        return manifest


def _parse(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None
