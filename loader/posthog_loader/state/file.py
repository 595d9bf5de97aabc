"""Local state for read-only warehouses: a JSON checkpoint file, and JSON-lines files beside it for
the quarantine and the record of delivered uuids (`state.json` → `state.quarantine.jsonl`,
`state.delivered.jsonl`).

Several loaders (one per shard) may share the files: every change happens under an exclusive lock
and re-reads what the others wrote. The warehouse cannot see these files, so rows already recorded
are dropped as they are read instead of by the warehouse.

Crash and full-disk safety: the checkpoint file is replaced whole (write, fsync, rename, fsync the
folder); the JSON-lines files only ever get whole, newline-terminated records appended and fsynced,
before the checkpoint that moves past them. A record torn by a crash or a full disk is the file's
tail: it is cut off (with a warning) before the next append, and lines that cannot be read are
skipped, so no damage ever stops a later run. A write that fails is LocalWriteError (exit 7); the
checkpoint on disk still stands, so a re-run once there is room resumes.
"""

import contextlib
import datetime as dt
import fcntl
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from posthog_loader.errors import ConfigError, LocalWriteError
from posthog_loader.read import Position, RowFilter
from posthog_loader.rows import POSTHOG_REFUSALS
from posthog_loader.sharding import Shard
from posthog_loader.state.base import (
    Checkpoint,
    DayEventCounts,
    Forget,
    StateStore,
    StateUpdate,
    quarantine_record,
    utc_now,
)
from posthog_loader.state.lease import Holder, lease_held
from posthog_loader.warehouse import Warehouse

_FORMAT = 1
_READ_BATCH_ROWS = 65_536
_TAIL_CHUNK = 65_536


@contextlib.contextmanager
def _writing(path: Path) -> Iterator[None]:
    """OSError while writing state (a full disk, a read-only folder) as the error users act on."""
    try:
        yield
    except OSError as error:
        raise LocalWriteError(
            f"The load's state could not be written to {path} ({error.strerror or error}). Nothing "
            "is lost: the checkpoint on disk still stands before everything not saved. Free some "
            "space (or fix the folder's permissions) and run the same command again to resume."
        ) from None


def _write_atomically(path: Path, data: bytes) -> None:
    """Write-then-rename: a crash leaves either the old or the new file, never half of one."""
    temporary = path.with_name(f"{path.name}.tmp")
    with _writing(path):
        try:
            with temporary.open("wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError:
            temporary.unlink(missing_ok=True)  # give back the space a full disk needs
            raise
        os.replace(temporary, path)
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)  # the rename itself survives a power cut
        finally:
            os.close(folder)


def _drop_torn_tail(path: Path) -> int:
    """Cut an unterminated last line (an append a crash or a full disk interrupted); returns the
    bytes dropped. Call under the lock: another loader may be appending."""
    if not path.exists():
        return 0
    with _writing(path), path.open("rb+") as handle:
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return 0
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return 0
        keep = end = size
        while end > 0:  # back to the last newline, a chunk at a time (record files grow large)
            start = max(0, end - _TAIL_CHUNK)
            handle.seek(start)
            newline = handle.read(end - start).rfind(b"\n")
            if newline >= 0:
                keep = start + newline + 1
                break
            keep = end = start
        handle.truncate(keep)
        handle.flush()
        os.fsync(handle.fileno())
        return size - keep


def _append(path: Path, data: bytes) -> None:
    with _writing(path), path.open("ab") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _read_lines(path: Path, skipped: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Every complete, readable line. A torn last line (a crash mid-append, before its checkpoint)
    is ignored; an unreadable line elsewhere (left by an older version appending after a torn one)
    is skipped and reported to `skipped`."""
    if not path.exists():
        return []
    data = path.read_bytes()
    complete = data[: data.rfind(b"\n") + 1]
    records = []
    for number, line in enumerate(complete.splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            if skipped is not None:
                skipped(f"{path} line {number} is damaged and was skipped")
    return records


def _lines(records: Sequence[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE) for record in records)


class FileStateStore(StateStore):
    def __init__(
        self,
        path: Path,
        warehouse: Warehouse | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self._path = path
        self._warn = warn or (lambda _message: None)
        self._quarantine_path = path.with_name(f"{path.stem}.quarantine.jsonl")
        self._record_path = path.with_name(f"{path.stem}.delivered.jsonl")
        self._lock_path = path.with_name(f"{path.name}.lock")
        # Only to find which recorded uuids left a view (Forget.absent_from).
        self._warehouse = warehouse
        self.description = f"state file {path}"
        self.quarantine_location = f"quarantine file {self._quarantine_path}"
        # Lease files held open (and locked) for the run.
        self._leases: list[IO[bytes]] = []
        self._read()  # a damaged file fails now, before anything is sent

    def _read(self) -> dict[str, Any]:
        if not self._path.exists():
            return {"format": _FORMAT, "checkpoints": {}}
        try:
            document = orjson.loads(self._path.read_bytes())
        except (orjson.JSONDecodeError, OSError) as error:
            raise ConfigError(
                f"--state-file {self._path} cannot be read ({error}). Restore it, or delete it "
                "together with --reset to start the load over."
            ) from None
        if not isinstance(document, dict) or document.get("format") != _FORMAT:
            raise ConfigError(f"--state-file {self._path} is not a load-posthog state file.")
        return document

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        """The current document, under the lock every writer of these files takes."""
        with _writing(self._lock_path):
            self._path.parent.mkdir(parents=True, exist_ok=True)
            lock = self._lock_path.open("a")
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield self._read()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def prepare(self) -> None:
        with _writing(self._path):
            self._path.parent.mkdir(parents=True, exist_ok=True)
        with self._locked():
            for path in (self._quarantine_path, self._record_path):
                self._repair(path)

    def _lease_path(self, model: str, shard: str) -> Path:
        return self._path.with_name(f"{self._path.name}.{model}.{shard.replace('/', '-of-')}.lease")

    def claim(self, keys: Sequence[tuple[str, str]]) -> None:
        holder = Holder.this_process(utc_now())
        for model, shard in keys:
            path = self._lease_path(model, shard)
            with _writing(path):
                lease = path.open("a+b")
            try:
                fcntl.flock(lease, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lease.seek(0)
                other = Holder.from_json(lease.read().decode(errors="replace"))
                lease.close()
                self.release()
                raise lease_held(model, shard, self.description, other) from None
            with _writing(path):
                lease.seek(0)
                lease.truncate()
                lease.write(holder.to_json())
                lease.flush()
            self._leases.append(lease)

    def renew(self) -> None:
        """A lock lasts as long as the process: nothing to renew."""

    def release(self) -> None:
        for lease in self._leases:
            lease.close()  # closing drops the lock
        self._leases = []

    def _repair(self, path: Path) -> None:
        dropped = _drop_torn_tail(path)
        if dropped:
            self._warn(
                f"{path} ended in a record torn by a crash or a full disk ({dropped} bytes); it "
                "was dropped (its rows come after the checkpoint and are sent again)."
            )

    def load(self, model: str, shard: str) -> Checkpoint:
        entry = self._read()["checkpoints"].get(model, {}).get(shard)
        if entry is None:
            return Checkpoint()
        position = None
        if entry.get("timestamp"):
            position = Position(dt.datetime.fromisoformat(entry["timestamp"]), entry["uuid"])
        recorded_from = entry.get("recorded_from")
        return Checkpoint(
            position,
            entry["rows_delivered"],
            entry["rows_quarantined"],
            dt.datetime.fromisoformat(recorded_from) if recorded_from else None,
        )

    def shard_keys(self, model: str) -> set[str]:
        return set(self._read()["checkpoints"].get(model, {}))

    def save(self, model: str, shard: str, update: StateUpdate) -> None:
        now = utc_now()
        with self._locked() as document:
            for path in (self._quarantine_path, self._record_path):
                self._repair(path)
            quarantined = _lines(
                [quarantine_record(model, shard, row, now) for row in update.quarantined]
            )
            recorded = b""
            if update.recorded is not None and update.recorded.num_rows:
                recorded = _lines(
                    [
                        {"model": model, "shard": shard, **entry}
                        for entry in update.recorded.to_pylist()
                    ]
                )
            if update.released:
                released = set(update.released)

                def refused_again(entry: dict[str, Any]) -> bool:
                    return (
                        entry.get("model") == model
                        and entry.get("shard") == shard
                        and entry.get("uuid") in released
                    )

                # Each file in one atomic write: the old entries of the rows sent again go, what
                # became of them comes.
                self._rewrite(self._quarantine_path, refused_again, quarantined)
                self._rewrite(self._record_path, refused_again, recorded)
            else:
                if quarantined:
                    _append(self._quarantine_path, quarantined)
                if recorded:
                    _append(self._record_path, recorded)
            if update.forget is not None:
                self._forget(model, shard, update.forget)
            checkpoint, position = update.checkpoint, update.checkpoint.position
            recorded_from = checkpoint.recorded_from
            document["checkpoints"].setdefault(model, {})[shard] = {
                "timestamp": position.timestamp.isoformat() if position else None,
                "uuid": position.uuid if position else None,
                "rows_delivered": checkpoint.rows_delivered,
                "rows_quarantined": checkpoint.rows_quarantined,
                "recorded_from": recorded_from.isoformat() if recorded_from else None,
                "updated_at": now.isoformat(),
            }
            _write_atomically(self._path, orjson.dumps(document, option=orjson.OPT_INDENT_2))

    def _forget(self, model: str, shard: str, forget: Forget) -> None:
        before = forget.before
        present = self._current_uuids(forget.absent_from) if forget.absent_from else None

        def forgotten(entry: dict[str, Any]) -> bool:
            if entry["model"] != model or entry["shard"] != shard:
                return False
            if before is not None and dt.datetime.fromisoformat(entry["timestamp"]) < before:
                return True
            return present is not None and entry["uuid"] not in present

        self._rewrite(self._record_path, forgotten)

    def _current_uuids(self, relation: str) -> set[str]:
        if self._warehouse is None:
            raise RuntimeError("FileStateStore needs the warehouse to forget absent uuids")
        uuid = self._warehouse.dialect.quote("uuid")
        uuids: set[str] = set()
        for batch in self._warehouse.stream(
            f"select {uuid} from {relation} where {uuid} is not null", {}, _READ_BATCH_ROWS
        ):
            uuids.update(batch.column(0).cast(pa.string()).to_pylist())
        return uuids

    @staticmethod
    def _rewrite(path: Path, dropped: Callable[[dict[str, Any]], bool], added: bytes = b"") -> None:
        if path.exists() or added:
            kept = [entry for entry in _read_lines(path) if not dropped(entry)]
            _write_atomically(path, _lines(kept) + added)

    def reset(self, models: Sequence[str], shard: Shard) -> None:
        def forgotten_shard(key: str) -> bool:
            return key == shard.key or not shard.same_split(key)

        def forgotten(entry: dict[str, Any]) -> bool:
            return entry.get("model") in models and forgotten_shard(entry.get("shard", ""))

        with self._locked() as document:
            for model in models:
                checkpoints = document["checkpoints"].get(model, {})
                for key in [key for key in checkpoints if forgotten_shard(key)]:
                    del checkpoints[key]
            _write_atomically(self._path, orjson.dumps(document, option=orjson.OPT_INDENT_2))
            self._rewrite(self._quarantine_path, forgotten)
            self._rewrite(self._record_path, forgotten)

    def refused(self, model: str, shard: str) -> RowFilter | None:
        uuids = pa.array(
            sorted(
                {
                    entry["uuid"]
                    for entry in _read_lines(self._quarantine_path, self._warn)
                    if entry.get("model") == model
                    and entry.get("shard") == shard
                    and entry.get("reason") in POSTHOG_REFUSALS
                    and entry.get("uuid")
                }
            ),
            pa.string(),
        )
        if not len(uuids):
            return None
        return RowFilter(keep=lambda rows: pc.is_in(rows.column("uuid"), value_set=uuids))

    def exclusion(self, model: str, shard: str) -> RowFilter | None:
        recorded = pa.array(
            [
                entry["uuid"]
                for entry in _read_lines(self._record_path, self._warn)
                if entry["model"] == model and entry["shard"] == shard
            ],
            pa.string(),
        )
        if not len(recorded):
            return None
        return RowFilter(
            keep=lambda rows: pc.invert(pc.is_in(rows.column("uuid"), value_set=recorded))
        )

    def quarantined_counts(
        self, model: str, since: dt.date, until: dt.date, *, refused_by_posthog: bool
    ) -> DayEventCounts:
        seen: set[tuple[dt.date, str, str]] = set()
        for entry in _read_lines(self._quarantine_path, self._warn):
            timestamp = entry.get("event_timestamp")
            if entry.get("model") != model or not timestamp or not entry.get("uuid"):
                continue
            if (entry.get("reason") in POSTHOG_REFUSALS) != refused_by_posthog:
                continue
            day = dt.datetime.fromisoformat(timestamp).date()
            if since <= day < until and entry.get("event") is not None:
                seen.add((day, entry["event"], entry["uuid"]))
        return DayEventCounts((day, event) for day, event, _ in seen)
