"""The record of what a download folder holds: which hour ranges are complete, and with which files.

It lives beside the files (`.posthog-migrate-fetch/ledger.json`, a name no reader globs as data) and is
replaced atomically after each range, so a crash loses at most the range in flight. A range whose recorded
files are gone or changed size counts as missing and is fetched again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import orjson

from posthog_migrate_fetch.errors import ConfigError
from posthog_migrate_fetch.hours import RECORD_FORMAT, HourRange

WORK_FOLDER = ".posthog-migrate-fetch"
LEDGER_VERSION = 1

Outcome = Literal["files", "no_data"]


@dataclass(frozen=True)
class FetchedFile:
    path: str  # relative to the download folder, with `/`
    bytes: int


@dataclass(frozen=True)
class RangeRecord:
    span: HourRange
    outcome: Outcome
    files: tuple[FetchedFile, ...] = ()
    fetched_at: str = ""

    def to_json(self) -> dict:
        return {
            "first": self.span.first.strftime(RECORD_FORMAT),
            "last": self.span.last.strftime(RECORD_FORMAT),
            "outcome": self.outcome,
            "files": [{"path": f.path, "bytes": f.bytes} for f in self.files],
            "fetched_at": self.fetched_at,
        }

    @classmethod
    def from_json(cls, data: dict) -> RangeRecord:
        span = HourRange(
            dt.datetime.strptime(data["first"], RECORD_FORMAT),
            dt.datetime.strptime(data["last"], RECORD_FORMAT),
        )
        files = tuple(FetchedFile(f["path"], int(f["bytes"])) for f in data["files"])
        return cls(span, data["outcome"], files, data.get("fetched_at", ""))

    def intact_in(self, folder: Path) -> bool:
        for fetched in self.files:
            path = folder / fetched.path
            if not path.is_file() or path.stat().st_size != fetched.bytes:
                return False
        return True


@dataclass
class Ledger:
    folder: Path
    source: str
    endpoint: str
    records: list[RangeRecord] = field(default_factory=list)
    project_ids: set[str] = field(default_factory=set)

    @property
    def path(self) -> Path:
        return self.folder / WORK_FOLDER / "ledger.json"

    @classmethod
    def open(cls, folder: Path, source: str, endpoint: str) -> Ledger:
        ledger = cls(folder, source, endpoint)
        if not ledger.path.exists():
            return ledger
        try:
            data = orjson.loads(ledger.path.read_bytes())
            if data.get("version") != LEDGER_VERSION:
                raise ValueError(f"version {data.get('version')!r}")
            records = [RangeRecord.from_json(item) for item in data["ranges"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"{ledger.path} is unreadable ({exc}). Move it away to fetch every range again."
            ) from exc
        if (data["source"], data["endpoint"]) != (source, endpoint):
            raise ConfigError(
                f"{folder} holds a {data['source']} download from {data['endpoint']}; fetch from "
                f"{endpoint} into another folder (one folder per project)."
            )
        ledger.records = records
        ledger.project_ids = set(data.get("project_ids", []))
        return ledger

    def complete_ranges(self) -> list[RangeRecord]:
        """Recorded ranges whose files are all still there, as written."""
        return [record for record in self.records if record.intact_in(self.folder)]

    def add(self, record: RangeRecord, project_ids: set[str]) -> None:
        overlapping = [r for r in self.records if _overlaps(r.span, record.span)]
        self.records = [r for r in self.records if r not in overlapping] + [record]
        self.records.sort(key=lambda r: r.span)
        self.project_ids |= project_ids
        self._save()

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "version": LEDGER_VERSION,
            "source": self.source,
            "endpoint": self.endpoint,
            "project_ids": sorted(self.project_ids),
            "ranges": [record.to_json() for record in self.records],
        }
        write_atomically(self.path, orjson.dumps(data, option=orjson.OPT_INDENT_2))


def _overlaps(a: HourRange, b: HourRange) -> bool:
    return a.first <= b.last and b.first <= a.last


def write_atomically(path: Path, content: bytes) -> None:
    """Write under a temporary name, flush to disk, then rename: readers see the old or the new file."""
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("wb") as sink:
        sink.write(content)
        sink.flush()
        os.fsync(sink.fileno())
    os.replace(temporary, path)


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """One fetch per folder at a time: a second one would race on the same files."""
    work = folder / WORK_FOLDER
    work.mkdir(parents=True, exist_ok=True)
    with (work / "lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise ConfigError(
                f"Another posthog-migrate-fetch is writing into {folder}; wait for it to finish."
            ) from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
