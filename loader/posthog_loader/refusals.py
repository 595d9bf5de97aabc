"""Bad rows, or a broken endpoint? Capture refuses a whole request (400, 413) for one bad event, so
the sender bisects a refused batch down to single events. That finds bad rows only while PostHog
itself works: a proxy answering 400, http:// sent to an HTTPS port or an outage refuses every
request, and bisection would then blame, and quarantine, every row.

A refusal is about a row only when PostHog accepts its neighbours: another part of the same batch,
or any request after it. When single events keep being refused with nothing accepted in between
(BROKEN_AFTER of them, or a whole batch with no evidence either way), the sender re-sends one event
PostHog accepted earlier in the run: accepted again, the refusals stand; refused, or nothing was
accepted yet, the endpoint is broken: the run stops (exit 4) and nothing of it is quarantined.
"""

import asyncio
from dataclasses import dataclass, field

from posthog_loader.capture_body import BodyLayout
from posthog_loader.rows import QuarantinedRow

# Single events refused one after another, with nothing accepted in between, before the endpoint
# itself is put to the test.
BROKEN_AFTER = 5


@dataclass
class Episode:
    """What PostHog answered while one batch was bisected."""

    # Some part of this batch was accepted: its refused rows are refused for themselves.
    neighbours_accepted: bool = False
    refused: list[QuarantinedRow] = field(default_factory=list)
    # The judge's acceptance count when the latest row was refused.
    accepted_before_last_refusal: int = 0


@dataclass(frozen=True)
class KnownGood:
    """A request PostHog accepted in this run: its first event can be sent again to test the
    endpoint (PostHog collapses the copy: same uuid, event, day and distinct_id)."""

    wire: bytes
    layout: BodyLayout


class RefusalJudge:
    """Shared by every batch of a run: counts acceptances and refusals across them."""

    def __init__(self) -> None:
        self.accepted = 0
        # Single events refused since the last acceptance.
        self.streak = 0
        self.known_good: KnownGood | None = None
        # One test of the endpoint at a time; batches waiting for it take its verdict.
        self.testing = asyncio.Lock()

    def accepted_request(self, known_good: KnownGood | None = None) -> None:
        self.accepted += 1
        self.streak = 0
        if known_good is not None:
            self.known_good = known_good

    def refused_event(self, episode: Episode, row: QuarantinedRow) -> bool:
        """Note a single event PostHog refused; True when the streak calls the endpoint into
        question."""
        episode.refused.append(row)
        episode.accepted_before_last_refusal = self.accepted
        self.streak += 1
        return self.streak >= BROKEN_AFTER

    def settled(self, episode: Episode) -> bool:
        """Whether the episode's refusals are about its rows (or it refused nothing)."""
        return (
            not episode.refused
            or episode.neighbours_accepted
            or self.accepted > episode.accepted_before_last_refusal
        )
