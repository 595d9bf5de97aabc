"""What a load remembers between runs, per model and shard, and the interface both stores offer.

- The checkpoint: the position `(timestamp, uuid)` of the last acknowledged row (the watermark) and
  totals.
- The record: the uuids already delivered (or quarantined), so a later run can skip them however
  their timestamp or distinct_id changed since. For events only the look-back window's worth is
  kept (`recorded_from` says from when on it is complete); for aliases and persons all of it.
- The quarantine: rows that cannot be sent, with the reason.
"""

import datetime as dt
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from posthog_loader.read import Position, RowFilter
from posthog_loader.rows import QuarantinedRow
from posthog_loader.sharding import Shard

STATE_TABLE = "posthog_load_state"
QUARANTINE_TABLE = "posthog_load_quarantine"
RECORD_TABLE = "posthog_load_delivered"
LEASE_TABLE = "posthog_load_lease"
# Rows to add to the record: the uuid, the row's timestamp (what pruning goes by) and the outcome.
RECORD_SCHEMA = pa.schema(
    [("uuid", pa.string()), ("timestamp", pa.timestamp("us")), ("outcome", pa.string())]
)
DELIVERED, QUARANTINED = "delivered", "quarantined"


@dataclass(frozen=True)
class Checkpoint:
    position: Position | None = None
    # Totals over all runs since the last --reset.
    rows_delivered: int = 0
    rows_quarantined: int = 0
    # Every row delivered or quarantined at or after this time is in the record; None: every row.
    recorded_from: dt.datetime | None = None


@dataclass(frozen=True)
class Forget:
    """Record entries a finished run no longer needs."""

    # Entries for rows older than this (the look-back window has passed them).
    before: dt.datetime | None = None
    # Entries whose uuid is no longer in this relation (a person whose properties changed).
    absent_from: str | None = None


@dataclass(frozen=True)
class StateUpdate:
    """One save: quarantined rows and record entries first, then the checkpoint that moves past
    them, atomically."""

    checkpoint: Checkpoint
    quarantined: Sequence[QuarantinedRow] = ()
    recorded: pa.Table | None = None
    forget: Forget | None = None
    # Rows sent again from the quarantine (--retry-quarantined): their quarantine rows and record
    # entries go, in the same save that adds what became of them.
    released: Sequence[str] = ()


def quarantine_record(
    model: str, shard: str, row: QuarantinedRow, at: dt.datetime
) -> dict[str, Any]:
    return {
        "model": model,
        "shard": shard,
        "uuid": row.uuid,
        "event": row.event,
        "distinct_id": row.distinct_id,
        "event_timestamp": row.timestamp,
        "reason": str(row.reason),
        "detail": row.detail,
        "payload": row.payload,
        "quarantined_at": at,
    }


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


# (UTC day, event name) → rows.
DayEventCounts = Counter[tuple[dt.date, str]]


class StateStore(ABC):
    description: str
    quarantine_location: str
    # Seconds between checkpoint saves while loading.
    checkpoint_interval: float = 1.0

    # How often a run must renew its leases (None: they last as long as the process).
    lease_renew_interval: float | None = None

    @abstractmethod
    def prepare(self) -> None:
        """Create the storage if missing (never called in a dry run)."""

    @abstractmethod
    def claim(self, keys: Sequence[tuple[str, str]]) -> None:
        """Take the lease on each (model, shard) for this run (see state/lease.py), or raise
        LeaseHeldError naming the run that holds one; nothing is claimed then."""

    @abstractmethod
    def release(self) -> None:
        """Give up this run's leases."""

    @abstractmethod
    def renew(self) -> None:
        """Extend this run's leases; LeaseHeldError if one was lost (expired and taken)."""

    @abstractmethod
    def load(self, model: str, shard: str) -> Checkpoint: ...

    @abstractmethod
    def shard_keys(self, model: str) -> set[str]:
        """The shard keys that hold state for `model`."""

    @abstractmethod
    def save(self, model: str, shard: str, update: StateUpdate) -> None: ...

    @abstractmethod
    def reset(self, models: Sequence[str], shard: Shard) -> None:
        """Forget the state of `shard` for these models, and any state left under another way of
        splitting them (it would otherwise block or double the load)."""

    @abstractmethod
    def refused(self, model: str, shard: str) -> RowFilter | None:
        """The filter that keeps only the rows quarantined because PostHog refused them
        (POSTHOG_REFUSALS), to send them again; None when there are none."""

    @abstractmethod
    def exclusion(self, model: str, shard: str) -> RowFilter | None:
        """The filter that skips rows already in the record (None: nothing recorded)."""

    @abstractmethod
    def quarantined_counts(
        self, model: str, since: dt.date, until: dt.date, *, refused_by_posthog: bool
    ) -> DayEventCounts:
        """Distinct quarantined rows per UTC day and event in [since, until), over all shards:
        those PostHog refused (POSTHOG_REFUSALS), or those the loader's own checks caught."""
