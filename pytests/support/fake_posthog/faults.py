"""Faults the fake PostHog applies to capture requests instead of (or around) capture's answer:
error statuses with Retry-After, slow answers, connections closed or reset (before or after the
events were stored), success answers nobody can read, error bodies that echo the request.

They come from a queue (`inject`: the next requests), a hook called with each request's index
(`fault_hook`: e.g. a FaultPlan drawing faults at random, reproducibly), or over HTTP."""

from __future__ import annotations

import random
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Hangup = Literal["close", "reset"]


@dataclass(frozen=True)
class Fault:
    """What to do to one request instead of (or before, or after) answering it normally."""

    status: int | None = None
    retry_after: str | None = None
    delay: float = 0.0
    # Close the connection without answering: FIN ("close") or RST ("reset").
    hangup: Hangup | None = None
    # Let capture accept and store the events first, then apply the fault (a lost answer).
    after_store: bool = False
    # Answer with this body and these headers instead of the status's usual JSON.
    body: bytes | None = None
    headers: tuple[tuple[str, str], ...] = ()
    # Answer `status` with a body quoting the request, as some proxies' error pages do.
    echo_request: bool = False

    @property
    def name(self) -> str:
        """A short label for request logs and stats."""
        if self.hangup:
            return f"{self.hangup}{'_after_store' if self.after_store else ''}"
        if self.body is not None:
            return f"unreadable_{self.status}"
        if self.echo_request:
            return f"echo_{self.status}"
        if self.status is not None:
            return f"status_{self.status}"
        return "slow" if self.delay else ""

    @property
    def replaces_answer(self) -> bool:
        return self.hangup is not None or self.status is not None

    @classmethod
    def respond(cls, status: int, retry_after: str | float | None = None) -> Fault:
        return cls(status=status, retry_after=None if retry_after is None else str(retry_after))

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        return cls(delay=seconds)

    @classmethod
    def dropped(cls) -> Fault:
        return cls(hangup="close")

    @classmethod
    def connection_reset(cls, *, after_store: bool = False) -> Fault:
        return cls(hangup="reset", after_store=after_store)

    @classmethod
    def unreadable_success(
        cls, kind: Literal["bad_gzip", "not_json"], *, after_store: bool = True
    ) -> Fault:
        """A 200 the client cannot read: gzip announced but not sent, or an HTML page."""
        if kind == "bad_gzip":
            return cls(
                status=200,
                body=b"this is not gzip",
                headers=(("content-type", "application/json"), ("content-encoding", "gzip")),
                after_store=after_store,
            )
        return cls(
            status=200,
            body=b"<html><body>Welcome to nginx!</body></html>",
            headers=(("content-type", "text/html"),),
            after_store=after_store,
        )

    @classmethod
    def echoing(cls, status: int) -> Fault:
        return cls(status=status, echo_request=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fault:
        hangup = data.get("hangup") or ("close" if data.get("drop") else None)
        return cls(
            status=data.get("status"),
            retry_after=None if data.get("retry_after") is None else str(data["retry_after"]),
            delay=float(data.get("delay", 0.0)),
            hangup=hangup,
            after_store=bool(data.get("after_store", False)),
            echo_request=bool(data.get("echo_request", False)),
        )


@dataclass(frozen=True)
class FaultPlan:
    """Faults drawn at random with the given probabilities, the same for the same seed and request
    index (a soak can be replayed). Usable as a CaptureServer.fault_hook."""

    odds: Sequence[tuple[float, Fault]]
    seed: int = 0

    def __call__(self, index: int) -> Fault | None:
        draw = random.Random(f"{self.seed}:{index}").random()
        for probability, fault in self.odds:
            if draw < probability:
                return fault
            draw -= probability
        return None


class FaultQueue:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queued: deque[Fault] = deque()
        # Called with each capture request's index (0-based); a Fault it returns applies.
        self.hook: Callable[[int], Fault | None] | None = None

    def inject(self, *faults: Fault, times: int = 1) -> None:
        with self._lock:
            self._queued.extend(list(faults) * times)

    def next(self, index: int) -> Fault | None:
        if self.hook is not None:
            fault = self.hook(index)
            if fault is not None:
                return fault
        with self._lock:
            return self._queued.popleft() if self._queued else None

    def clear(self) -> None:
        with self._lock:
            self._queued.clear()
