"""The rate budget, on a clock the test moves: whatever the batch sizes, concurrency, retries or
pauses, the events handed over per second never exceed the budget, and a steady load achieves it.
(The achieved rate against the capture fake is measured in bench/bench_rate.py, not timed here.)"""

from __future__ import annotations

import asyncio
import random

import pytest

from loader.conftest import Project
from posthog_loader.pacing import DEFAULT_RATE, Pacer, describe_budget, duration_text
from support.fake_posthog.store import ReceivedRequest, achieved_rate


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _starts(pacer: Pacer, clock: FakeClock, sizes: list[int]) -> list[tuple[float, int]]:
    """Start time of each batch when every batch is handed over the moment it may be."""

    async def run() -> list[tuple[float, int]]:
        started = []
        for size in sizes:
            await pacer.wait(size)
            started.append((clock.now, size))
        return started

    return asyncio.run(run())


def _max_over_any_window(starts: list[tuple[float, int]], window: float) -> float:
    """The most events started within any `window` seconds, per second."""
    most = 0
    for index, (start, _) in enumerate(starts):
        inside = sum(size for at, size in starts[index:] if at < start + window)
        most = max(most, inside)
    return most / window


def test_a_steady_load_runs_at_the_budget():
    clock = FakeClock()
    rng = random.Random(3)
    sizes = [rng.randint(1, 5000) for _ in range(400)]

    starts = _starts(Pacer(2000, clock=clock, sleep=clock.sleep), clock, sizes)

    # Each batch starts when the ones before it have had their events/rate seconds.
    elapsed = starts[-1][0] - starts[0][0]
    assert sum(sizes[:-1]) / elapsed == pytest.approx(2000, rel=1e-9)
    # And no stretch of 60 s carries more than its budget plus one batch.
    assert _max_over_any_window(starts, 60.0) <= 2000 + 5000 / 60


def test_idle_time_is_not_saved_up_for_a_burst():
    clock = FakeClock()
    pacer = Pacer(1000, clock=clock, sleep=clock.sleep)

    assert pacer.reserve(500) == 0  # the first batch goes at once
    clock.now += 60  # the warehouse was slow for a minute
    assert pacer.reserve(500) == 0
    assert pacer.reserve(500) == pytest.approx(0.5)  # not 60 s of credit
    assert pacer.reserve(2000) == pytest.approx(1.0)
    assert pacer.reserve(1) == pytest.approx(3.0)


def test_concurrent_requests_share_one_budget():
    clock = FakeClock()
    pacer = Pacer(100, clock=clock, sleep=clock.sleep)
    started: list[float] = []

    async def request(events: int) -> None:
        await pacer.wait(events)
        started.append(clock.now)

    async def run() -> None:
        await asyncio.gather(*(request(50) for _ in range(8)))

    asyncio.run(run())

    # Eight requests in flight at once still start 0.5 s apart: 100 events/s together.
    assert sorted(round(at - 1000.0, 6) for at in started) == [0.5 * i for i in range(8)]


def test_no_budget_never_waits():
    clock = FakeClock()
    pacer = Pacer(None, clock=clock, sleep=clock.sleep)

    asyncio.run(pacer.wait(10**9))

    assert clock.sleeps == []


def test_the_start_line_names_the_budget_its_origin_and_how_to_raise_it():
    default = describe_budget(DEFAULT_RATE / 4, shards=4)
    assert "2,000 events/s for the whole load (500 events/s for each of the 4 shards)" in default
    assert "few thousand events/s across all workers" in default
    assert "posthog.com/docs/migrate" in default
    assert "--rate" in default and "load-posthog export" in default

    assert "set by --rate" in describe_budget(10_000, shards=1)
    assert "no budget (--rate 0)" in describe_budget(None, shards=1)


def test_durations_read_like_a_person_wrote_them():
    assert [duration_text(s) for s in (0, 59, 61, 3600 * 3 + 20 * 60, 86400 * 5 + 7200)] == [
        "0s",
        "59s",
        "1m",
        "3h20m",
        "5d2h",
    ]


def test_a_load_prints_its_budget_and_eta(project: Project):
    result = project.run("--models", "events", "--rate", "4000")

    assert result.exit_code == 0, result.output
    assert "Rate: 4,000 events/s for the whole load, set by --rate" in result.stdout
    # Piped output: plain progress lines carry the budget and what the remaining rows take at it.
    assert "events: 400 rows to load (about 0s at 4,000 ev/s)" in result.stdout
    assert "(budget 4,000, ETA 0s)" in result.stdout


def test_without_rate_the_default_budget_applies(project: Project, monkeypatch):
    seen: list[float | None] = []
    original = Pacer.__init__

    def record(self: Pacer, rate: float | None, **kwargs: object) -> None:
        seen.append(rate)
        original(self, rate, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Pacer, "__init__", record)

    assert project.run("--models", "aliases", "--shard", "1/2").exit_code == 0
    assert project.run("--models", "aliases", "--shard", "0/2", "--rate", "0").exit_code == 0

    assert seen == [DEFAULT_RATE / 2, None]


def test_the_fake_measures_a_paced_load_at_its_budget():
    """What bench/bench_rate.py reads from the fake PostHog, on requests paced by a fake clock."""
    clock = FakeClock()
    rng = random.Random(11)
    sizes = [rng.randint(100, 5000) for _ in range(200)]
    starts = _starts(Pacer(2000, clock=clock, sleep=clock.sleep), clock, sizes)
    requests = [
        ReceivedRequest(index, "/batch/", 200, size, True, at, at)
        for index, (at, size) in enumerate(starts)
    ]
    refused = ReceivedRequest(999, "/batch/", 503, 10**6, True, starts[0][0] + 1, 0)

    assert achieved_rate([*requests, refused]) == pytest.approx(2000, rel=1e-9)
    assert achieved_rate(requests[:1]) is None
