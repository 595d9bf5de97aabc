"""The one retry policy (posthog_loader.retry) that capture, the query API and uploads share."""

from __future__ import annotations

import asyncio
import datetime as dt
import random

import httpx
import pytest

from posthog_loader.retry import (
    Failure,
    RetriesExhausted,
    RetryPolicy,
    call,
    call_async,
    error_failure,
    parse_retry_after,
    retryable_status,
    status_failure,
    unreadable_success,
)


def test_retry_after_is_a_floor_and_backoff_is_capped():
    rng = random.Random(7)
    policy = RetryPolicy(max_retries=8, base_delay=0.5, max_delay=4.0)

    delays = [policy.delay(attempt, None, rng) for attempt in range(8)]

    assert all(0.25 <= delay <= 4.0 for delay in delays)
    assert delays[-1] >= 2.0
    assert policy.delay(0, 9.0, rng) == 9.0
    assert policy.delay(0, 10_000.0, rng) == 120.0


def test_retry_after_parses_seconds_and_http_dates():
    now = dt.datetime(2024, 1, 1, 12, 0, 0, tzinfo=dt.UTC)

    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Mon, 01 Jan 2024 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_what_is_worth_retrying():
    assert [status for status in (200, 400, 401, 404, 413) if retryable_status(status)] == []
    assert all(retryable_status(status) for status in (408, 429, 500, 502, 503))


def test_call_retries_failures_then_returns_the_answer():
    outcomes: list[str | Failure] = [Failure("HTTP 503", retry_after=3.0), Failure("reset"), "ok"]
    slept: list[float] = []
    notes: list[str] = []

    answer = call(
        lambda: outcomes.pop(0),
        RetryPolicy(max_retries=5, base_delay=0.5, max_delay=1.0),
        sleep=slept.append,
        rng=random.Random(1),
        on_retry=notes.append,
    )

    assert answer == "ok"
    assert slept[0] == 3.0 and 0.25 <= slept[1] <= 1.0
    assert notes[0] == "HTTP 503; retry 1/5 in 3.0s"
    assert notes[1].startswith("reset; retry 2/5 in ")


def test_call_gives_up_after_max_retries_with_the_last_failure():
    attempts: list[int] = []

    def attempt() -> Failure:
        attempts.append(1)
        return Failure(f"HTTP 502 try {len(attempts)}")

    with pytest.raises(RetriesExhausted) as exhausted:
        call(attempt, RetryPolicy(2, 0.0, 0.0), sleep=lambda _seconds: None)

    assert len(attempts) == 3
    assert (exhausted.value.failure.message, exhausted.value.retries) == ("HTTP 502 try 3", 2)


def test_errors_an_attempt_raises_are_not_retried():
    attempts: list[int] = []

    def attempt() -> str:
        attempts.append(1)
        raise ValueError("a refusal")

    with pytest.raises(ValueError, match="a refusal"):
        call(attempt, RetryPolicy(5, 0.0, 0.0), sleep=lambda _seconds: None)
    assert attempts == [1]


def test_call_async_waits_without_blocking_and_retries():
    outcomes: list[str | Failure] = [Failure("HTTP 429"), "done"]

    async def attempt() -> str | Failure:
        return outcomes.pop(0)

    assert asyncio.run(call_async(attempt, RetryPolicy(1, 0.0, 0.0))) == "done"


def test_unreadable_success_answers_are_failures():
    request = httpx.Request("POST", "http://127.0.0.1/batch/")

    html = httpx.Response(200, content=b"<html>proxy</html>", request=request)
    json_ok = httpx.Response(200, content=b'{"status":"Ok"}', request=request)
    empty = httpx.Response(204, request=request)

    failure = unreadable_success(html)
    assert failure is not None and "not JSON" in failure.message
    assert unreadable_success(json_ok) is None
    assert unreadable_success(empty) is None


def test_failures_say_what_happened():
    request = httpx.Request("POST", "http://127.0.0.1/batch/")
    limited = httpx.Response(429, headers={"retry-after": "7"}, request=request)

    assert status_failure(limited, "slow down") == Failure("HTTP 429 slow down", 7.0)
    assert error_failure(httpx.ConnectError("refused")) == Failure("ConnectError: refused")
    assert error_failure(httpx.ReadTimeout("")) == Failure("ReadTimeout")
    assert error_failure(httpx.DecodingError("bad gzip")).message.startswith("unreadable answer")
