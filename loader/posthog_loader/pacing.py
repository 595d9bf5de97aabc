"""The events/second budget of a capture load.

PostHog asks self-run importers to "keep the total below a few thousand events per second across all
workers and processes": a faster import only fills the ingestion queue, delays everyone's events, and
an import that destabilizes ingestion may be delayed or dropped (posthog.com/docs/migrate). Its own
managed migrations send 5,000 events/s by default, through a capture deployment that skips the global
rate limiter. The default here stays below "a few thousand" for the whole load; `--rate` raises it
once PostHog has agreed to more, and n shards share it (each takes rate/n).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

DEFAULT_RATE = 2_000.0
GUIDANCE_URL = "https://posthog.com/docs/migrate#limit-your-import-rate"


class Pacer:
    """Spaces batches so that the events handed over per second stay within `rate`.

    A batch of n events may start once the batches before it have had their n/rate seconds; time
    spent idle (a slow warehouse, a retry's backoff) is not saved up for a burst afterwards. Every
    attempt counts, retries included: PostHog's ingestion sees each of them.
    """

    def __init__(
        self,
        rate: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        self._next_start: float | None = None

    def reserve(self, events: int) -> float:
        """Claim the budget for `events`; returns how long to wait before starting them."""
        if not self.rate:
            return 0.0
        now = self._clock()
        start = now if self._next_start is None else max(now, self._next_start)
        self._next_start = start + events / self.rate
        return start - now

    async def wait(self, events: int) -> None:
        delay = self.reserve(events)
        if delay > 0:
            await self._sleep(delay)


def describe_budget(rate: float | None, shards: int) -> str:
    """The line a load starts with: its budget, where the default comes from, how to raise it."""
    if not rate:
        return (
            "Rate: no budget (--rate 0). PostHog asks imports into its cloud to stay below a few "
            f"thousand events/s across all workers ({GUIDANCE_URL}); use this only against a "
            "PostHog you run yourself or once PostHog has agreed."
        )
    whole = rate * shards
    share = f" ({rate:,.0f} events/s for each of the {shards} shards)" if shards > 1 else ""
    origin = (
        "the default, below the few thousand events/s across all workers PostHog asks "
        f"self-run imports to stay under ({GUIDANCE_URL})"
        if whole == DEFAULT_RATE
        else "set by --rate"
    )
    return (
        f"Rate: {whole:,.0f} events/s for the whole load{share}, {origin}. Raise it with --rate "
        "once PostHog has agreed to a faster import (support, topic 'Data ingestion'), or move a "
        "large history through files and a managed migration: `load-posthog export`."
    )


def duration_text(seconds: float) -> str:
    """A duration for people: 45s, 12m, 3h20m, 2d5h."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, _ = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours}h"
