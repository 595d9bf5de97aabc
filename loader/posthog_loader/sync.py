"""Incremental sync: what a run reads again, and what it must remember, so that each run sends what
is new since the last one and no row twice.

- events: rows after the watermark (the checkpoint position), plus rows up to --lookback before it
  that the record does not hold (late arrivals). The record keeps the uuids of that window only.
- aliases, persons: every row the record does not hold, whatever its timestamp (a new identity link
  can carry an old timestamp). The record keeps all of their uuids.

Because the record holds uuids, an event whose distinct_id changed at the source (a Heap user merged
after their events were sent: same uuid) is not sent again, while the new alias linking the old id is.

`recorded_from` bounds the record: every row delivered at or after it is recorded, and runs never
revisit rows before it (they may have been delivered unrecorded). So the bulk of a first load,
years of history, is never written to the record: only its last look-back window is.
"""

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from posthog_loader.read import ReadPlan, Revisit
from posthog_loader.state import Checkpoint, Forget


@dataclass(frozen=True)
class SyncPolicy:
    # How far before the watermark rows are revisited; None: every earlier row is.
    lookback: dt.timedelta | None
    # Forget recorded uuids the view no longer holds. A person's uuid changes with its properties:
    # the old one can go, and if the properties change back, that person is rightly sent again.
    forget_superseded: bool = False

    def revisit(self, checkpoint: Checkpoint) -> Revisit | None:
        """Rows before the checkpoint this run reads again (None: no checkpoint, all rows are
        read anyway)."""
        if checkpoint.position is None:
            return None
        bounds = [checkpoint.recorded_from]
        if self.lookback is not None:
            bounds.append(checkpoint.position.timestamp - self.lookback)
        known = [bound for bound in bounds if bound is not None]
        return Revisit(max(known) if known else None)

    def recorded_from(self, checkpoint: Checkpoint, plan: ReadPlan) -> dt.datetime | None:
        """From when on this run records what it delivers: one look-back window before the newest
        rows it plans to read; rows older than that will have left the window when it ends."""
        if self.lookback is None or not plan.buckets:
            return checkpoint.recorded_from
        start = plan.buckets[-1].start - self.lookback
        if checkpoint.recorded_from is None:
            return start
        return max(start, checkpoint.recorded_from)

    def forget(self, checkpoint: Checkpoint, relation: str) -> Forget | None:
        """What a complete run lets go of."""
        before = None
        if self.lookback is not None and checkpoint.position is not None:
            before = checkpoint.position.timestamp - self.lookback
        absent_from = relation if self.forget_superseded else None
        if before is None and absent_from is None:
            return None
        return Forget(before, absent_from)


def policies(lookback: dt.timedelta) -> Mapping[str, SyncPolicy]:
    return {
        "aliases": SyncPolicy(lookback=None),
        "persons": SyncPolicy(lookback=None, forget_superseded=True),
        "events": SyncPolicy(lookback=lookback),
    }
