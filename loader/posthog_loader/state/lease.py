"""Leases: one run at a time per (state, model, shard), like PostHog's batch-import-worker.

Two runs sending the same rows both send them all (their checkpoints cannot see each other's
requests in flight). So before anything is sent, a run claims a lease on each model and shard it
loads, in the store that holds their state, and keeps it until it ends:

- --state-file: an exclusive lock (flock) on a file beside the state, held open for the run. The
  operating system drops it the moment the process ends, crashed or not.
- state tables: a row in posthog_load_lease with a lease id and an expiry, claimed, then renewed
  while the run lives (and guarded by the lease id), deleted at its end. A crashed run's row
  expires; one left by a process of this machine that no longer exists is taken over at once.

The second run is told who holds the lease (host, pid, since) and exits 8.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid
from dataclasses import asdict, dataclass
from typing import Any

import orjson

from posthog_loader.errors import LeaseHeldError

# A held lease lasts this long past its last renewal; runs renew it every LEASE_RENEW_EVERY.
LEASE_TTL = dt.timedelta(minutes=10)
LEASE_RENEW_EVERY = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class Holder:
    """The run holding (or claiming) a lease."""

    lease_id: str
    host: str
    pid: int
    since: dt.datetime

    @classmethod
    def this_process(cls, now: dt.datetime) -> Holder:
        return cls(uuid.uuid4().hex, socket.gethostname(), os.getpid(), now)

    @classmethod
    def from_json(cls, text: str) -> Holder | None:
        try:
            data = orjson.loads(text)
            return cls(
                str(data["lease_id"]),
                str(data["host"]),
                int(data["pid"]),
                dt.datetime.fromisoformat(data["since"]),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None

    def to_json(self) -> bytes:
        data: dict[str, Any] = {**asdict(self), "since": self.since.isoformat()}
        return orjson.dumps(data)

    def gone(self) -> bool:
        """Whether this holder is a process of this machine that no longer runs."""
        if self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False


def lease_held(
    model: str, shard: str, where: str, holder: Holder | None, expires: dt.datetime | None = None
) -> LeaseHeldError:
    who = (
        f"host {holder.host}, pid {holder.pid}, since {holder.since:%Y-%m-%d %H:%M:%S} UTC"
        if holder is not None
        else "a process that did not say who it is"
    )
    until = (
        f"; its lease expires at {expires:%Y-%m-%d %H:%M:%S} UTC unless renewed" if expires else ""
    )
    return LeaseHeldError(
        f"Another load-posthog run is loading {model} (shard {shard}) into {where}: {who}{until}. "
        "Two runs would send the same rows twice, so this one sent nothing. Let that run finish "
        "(or stop it) and run again; a run that crashed gives its lease up"
        + (" when it expires." if expires else " at once.")
    )
