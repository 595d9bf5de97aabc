"""The one retry policy for every request the loader makes (capture, the query API, file uploads):
what is worth another attempt, how long to wait before it, and the loop that waits.

- Worth retrying: 408, 429 and 5xx answers, network errors, and success answers nobody can read
  (a body announced as gzip that is not, a page that is not JSON): PostHog or something between
  it and us failed, and a later attempt may get through. Other 4xx are answers, never retried.
- The wait: exponential backoff with jitter, capped; PostHog's Retry-After is a floor on top,
  itself bounded so a bogus header cannot stall a scheduled job for hours.
- After `max_retries` retries, RetriesExhausted carries the last failure; each caller turns it
  into the error its user can act on.
"""

import asyncio
import datetime as dt
import email.utils
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import httpx
import orjson

T = TypeVar("T")
# Longest Retry-After honoured, in seconds.
RETRY_AFTER_CEILING = 120.0
_MAX_MESSAGE_CHARS = 500
# Errors raised while a request is on the wire or its answer is read: worth another attempt.
RETRYABLE_ERRORS = (httpx.TransportError, httpx.DecodingError)


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int
    base_delay: float
    max_delay: float

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait after failed attempt number `attempt` (0-based)."""
        exponential = min(self.max_delay, self.base_delay * 2**attempt)
        jittered = exponential / 2 + rng.uniform(0, exponential / 2)
        return max(jittered, min(retry_after or 0.0, RETRY_AFTER_CEILING))


@dataclass(frozen=True)
class Failure:
    """One attempt that failed in a way worth retrying; `message` says how, for the user."""

    message: str
    retry_after: float | None = None


class RetriesExhausted(Exception):
    def __init__(self, failure: Failure, retries: int) -> None:
        super().__init__(failure.message)
        self.failure = failure
        self.retries = retries


def retryable_status(status: int) -> bool:
    return status in (408, 429) or status >= 500


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Retry-After in seconds, from either delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = now or dt.datetime.now(dt.UTC)
    return max(0.0, (when - now).total_seconds())


def error_message(
    response: httpx.Response, keys: tuple[str, ...] = ("error", "detail", "message")
) -> str:
    """What the server said in an error response: the first of `keys` holding text, else the body."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return response.text[:_MAX_MESSAGE_CHARS]
    if isinstance(body, dict):
        for key in keys:
            if isinstance(body.get(key), str):
                return body[key][:_MAX_MESSAGE_CHARS]
    return response.text[:_MAX_MESSAGE_CHARS]


def error_failure(error: Exception) -> Failure:
    """A RETRYABLE_ERRORS exception as a failure."""
    if isinstance(error, httpx.DecodingError):
        return Failure(f"unreadable answer (its body could not be decoded: {error})")
    return Failure(f"{type(error).__name__}: {error}" if str(error) else type(error).__name__)


def status_failure(response: httpx.Response, message: str) -> Failure:
    """A retryable status as a failure."""
    return Failure(
        f"HTTP {response.status_code} {message}".strip(),
        parse_retry_after(response.headers.get("retry-after")),
    )


def unreadable_success(response: httpx.Response) -> Failure | None:
    """A failure when a 2xx answer is not what a PostHog API answers (empty or JSON): a proxy's page,
    a truncated body. None when it is readable."""
    if not response.content:
        return None
    try:
        orjson.loads(response.content)
    except orjson.JSONDecodeError:
        kind = response.headers.get("content-type", "no content type")
        return Failure(f"unreadable answer (HTTP {response.status_code}, {kind}, not JSON)")
    return None


class _Attempts:
    """Counts one request's failed attempts and says how long to wait before the next."""

    def __init__(
        self,
        policy: RetryPolicy,
        rng: random.Random | None,
        on_retry: Callable[[str], None] | None,
    ) -> None:
        self._policy = policy
        self._rng = rng or random.Random()
        self._on_retry = on_retry
        self._failed = 0

    def wait_after(self, failure: Failure) -> float:
        policy = self._policy
        if self._failed >= policy.max_retries:
            raise RetriesExhausted(failure, policy.max_retries)
        delay = policy.delay(self._failed, failure.retry_after, self._rng)
        self._failed += 1
        if self._on_retry is not None:
            self._on_retry(
                f"{failure.message}; retry {self._failed}/{policy.max_retries} in {delay:.1f}s"
            )
        return delay


def call(
    attempt: Callable[[], T | Failure],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
    on_retry: Callable[[str], None] | None = None,
) -> T:
    """Run `attempt` until it returns something other than a Failure; RetriesExhausted once the
    policy's retries are spent. Errors it raises are not retried."""
    attempts = _Attempts(policy, rng, on_retry)
    while True:
        outcome = attempt()
        if not isinstance(outcome, Failure):
            return outcome
        sleep(attempts.wait_after(outcome))


async def call_async(
    attempt: Callable[[], Awaitable[T | Failure]],
    policy: RetryPolicy,
    *,
    rng: random.Random | None = None,
    on_retry: Callable[[str], None] | None = None,
) -> T:
    """`call` for coroutines: waits with asyncio.sleep, so other requests go on meanwhile."""
    attempts = _Attempts(policy, rng, on_retry)
    while True:
        outcome = await attempt()
        if not isinstance(outcome, Failure):
            return outcome
        await asyncio.sleep(attempts.wait_after(outcome))
