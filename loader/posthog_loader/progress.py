"""Progress while loading: a rich bar per model on a terminal, plain log lines otherwise. With a
rate budget, both show it and the time the remaining rows take at it."""

import time
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from posthog_loader.pacing import duration_text

# Plain-log mode: one line per model at most this often, so CI logs stay readable.
LOG_INTERVAL_SECONDS = 10.0


class LoadProgress(Protocol):
    def start_model(self, model: str, total: int) -> None: ...

    def advance(self, model: str, rows: int) -> None: ...

    def finish_model(self, model: str, status: str) -> None: ...

    def note(self, message: str) -> None: ...

    def close(self) -> None: ...


class _EventsPerSecond(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} ev/s" if speed else "- ev/s", style="progress.data.speed")


class _Budget(ProgressColumn):
    """The budget, and how long the remaining rows take at it."""

    def __init__(self, rate: float) -> None:
        super().__init__()
        self._rate = rate

    def render(self, task: Task) -> Text:
        remaining = duration_text((task.remaining or 0) / self._rate)
        return Text(f"budget {self._rate:,.0f} ev/s, ETA {remaining}", style="progress.remaining")


def budget_eta(rows: int, rate: float | None) -> str:
    return f" (about {duration_text(rows / rate)} at {rate:,.0f} ev/s)" if rate and rows else ""


class BarProgress:
    def __init__(self, console: Console, rate: float | None) -> None:
        columns: list[ProgressColumn] = [
            TextColumn("{task.description:<8}"),
            BarColumn(),
            MofNCompleteColumn(),
            _EventsPerSecond(),
        ]
        columns.append(_Budget(rate) if rate else TimeRemainingColumn())
        self._progress = Progress(*columns, console=console)
        self._tasks: dict[str, TaskID] = {}
        self._progress.start()

    def start_model(self, model: str, total: int) -> None:
        self._tasks[model] = self._progress.add_task(model, total=total)

    def advance(self, model: str, rows: int) -> None:
        self._progress.advance(self._tasks[model], rows)

    def finish_model(self, model: str, status: str) -> None:
        task = self._tasks[model]
        self._progress.update(task, description=f"{model} {status}")
        self._progress.stop_task(task)

    def note(self, message: str) -> None:
        self._progress.console.log(message)

    def close(self) -> None:
        self._progress.stop()


class LogProgress:
    def __init__(self, console: Console, rate: float | None) -> None:
        self._console = console
        self._rate = rate
        self._totals: dict[str, int] = {}
        self._done: dict[str, int] = {}
        self._started: dict[str, float] = {}
        self._last_line = 0.0

    def _line(self, message: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        self._console.print(f"{stamp} {message}", highlight=False, markup=False, soft_wrap=True)

    def _status(self, model: str) -> str:
        done, total = self._done[model], self._totals[model]
        elapsed = time.monotonic() - self._started[model]
        rate = done / elapsed if elapsed else 0.0
        percent = 100 * done / total if total else 100.0
        status = f"{model}: {done:,}/{total:,} rows ({percent:.0f}%), {rate:,.0f} ev/s"
        if self._rate:
            left = duration_text(max(0, total - done) / self._rate)
            status += f" (budget {self._rate:,.0f}, ETA {left})"
        return status

    def start_model(self, model: str, total: int) -> None:
        self._totals[model], self._done[model] = total, 0
        self._started[model] = self._last_line = time.monotonic()
        self._line(f"{model}: {total:,} rows to load{budget_eta(total, self._rate)}")

    def advance(self, model: str, rows: int) -> None:
        self._done[model] += rows
        now = time.monotonic()
        if now - self._last_line >= LOG_INTERVAL_SECONDS:
            self._last_line = now
            self._line(self._status(model))

    def finish_model(self, model: str, status: str) -> None:
        self._line(f"{self._status(model)}, {status}")

    def note(self, message: str) -> None:
        self._line(message)

    def close(self) -> None:
        return None


def make_progress(console: Console, rate: float | None = None) -> LoadProgress:
    """Progress for a run whose events/second budget is `rate` (None: none)."""
    return BarProgress(console, rate) if console.is_terminal else LogProgress(console, rate)
