"""Ranges of whole UTC hours: what the Amplitude Export API selects by (inclusive `start` and `end` hours)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum

HOUR = dt.timedelta(hours=1)
API_FORMAT = "%Y%m%dT%H"
RECORD_FORMAT = "%Y-%m-%dT%H"


class Granularity(StrEnum):
    day = "day"
    hour = "hour"


@dataclass(frozen=True, order=True)
class HourRange:
    """The hours `first` to `last`, both included, as naive UTC datetimes on the hour."""

    first: dt.datetime
    last: dt.datetime

    def __post_init__(self) -> None:
        if self.first > self.last:
            raise ValueError(f"empty hour range {self.first} .. {self.last}")

    @property
    def hours(self) -> int:
        return int((self.last - self.first) / HOUR) + 1

    def each_hour(self) -> Iterator[dt.datetime]:
        hour = self.first
        while hour <= self.last:
            yield hour
            hour += HOUR

    def halves(self) -> tuple[HourRange, HourRange]:
        """Two ranges covering this one, for a request the source found too large."""
        if self.hours < 2:
            raise ValueError("a single hour cannot be split")
        middle = self.first + (self.hours // 2) * HOUR
        return HourRange(self.first, middle - HOUR), HourRange(middle, self.last)

    def api_params(self) -> dict[str, str]:
        return {"start": self.first.strftime(API_FORMAT), "end": self.last.strftime(API_FORMAT)}

    def label(self) -> str:
        if self.first == self.last:
            return self.first.strftime("%Y-%m-%d %H:00")
        if self.hours == 24 and self.first.hour == 0:
            return self.first.strftime("%Y-%m-%d")
        return f"{self.first:%Y-%m-%d %H:00}..{self.last:%Y-%m-%d %H}:59"

    def key(self) -> str:
        """A name for files of this range: sortable, no characters a file system refuses."""
        return f"{self.first:%Y%m%dT%H}-{self.last:%Y%m%dT%H}"


def parse_hour(text: str, *, end: bool, option: str) -> dt.datetime:
    """`YYYY-MM-DD` (the day's first hour, or its last for an end) or `YYYY-MM-DDTHH`, in UTC."""
    for pattern in ("%Y-%m-%dT%H", "%Y-%m-%d"):
        try:
            value = dt.datetime.strptime(text, pattern)
        except ValueError:
            continue
        if pattern == "%Y-%m-%d" and end:
            value += dt.timedelta(hours=23)
        return value
    raise ValueError(f"{option} {text!r} is not a UTC date YYYY-MM-DD or hour YYYY-MM-DDTHH")


def missing_ranges(
    wanted: HourRange, covered: Iterable[HourRange], granularity: Granularity
) -> list[HourRange]:
    """The hours of `wanted` no covered range holds, as requests: runs of hours cut at each UTC day (or
    hour), so a request never spans two days and a resumed run asks for exactly what is missing."""
    done = {hour for span in covered for hour in span.each_hour()}
    ranges: list[HourRange] = []
    run_start: dt.datetime | None = None
    previous: dt.datetime | None = None
    for hour in wanted.each_hour():
        breaks = hour in done or (
            run_start is not None
            and (granularity is Granularity.hour or hour.date() != run_start.date())
        )
        if breaks and run_start is not None and previous is not None:
            ranges.append(HourRange(run_start, previous))
            run_start = None
        if hour not in done and run_start is None:
            run_start = hour
        previous = hour
    if run_start is not None and previous is not None:
        ranges.append(HourRange(run_start, previous))
    return ranges
