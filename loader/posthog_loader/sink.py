"""Where batches go. One pipeline reads a contract view, cuts it into batches and checkpoints what was
handed over; a sink takes each batch: capture's `/batch/` endpoint (`send.Sender`) or files for
PostHog's managed import (`export.sink.PartSink`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

from posthog_loader.batching import Batch, BatchLimits
from posthog_loader.rows import QuarantinedRow

if TYPE_CHECKING:
    from posthog_loader.report import ModelReport

T = TypeVar("T")


@dataclass(frozen=True)
class PreparedBatch(Generic[T]):
    """A batch ready to hand over: `content` is what the sink made of its valid rows (None when it
    has none), `batch.rows` no longer needs to hold their payloads."""

    batch: Batch
    content: T | None


@dataclass
class Delivery:
    """What happened to one batch."""

    delivered: int = 0
    events_by_name: Counter[str] = field(default_factory=Counter)
    quarantined: list[QuarantinedRow] = field(default_factory=list)
    # Requests (or parts) written, retries among them, and their bytes as stored or sent.
    requests: int = 0
    retries: int = 0
    wire_bytes: int = 0


class SendingHaltedError(Exception):
    """Raised in deliveries still running after the run stopped; never reaches the user."""


class Sink(ABC, Generic[T]):
    """Takes batches. `prepare` runs on the reader's thread (it may be CPU-heavy), `deliver` on
    the event loop, up to `concurrency` at once; the hooks let a sink keep its own record in step
    with the checkpoint."""

    limits: BatchLimits
    concurrency: int

    @abstractmethod
    def prepare(self, batch: Batch) -> PreparedBatch[T]: ...

    @abstractmethod
    async def deliver(self, prepared: PreparedBatch[T], label: str) -> Delivery: ...

    def begin_model(self, report: ModelReport) -> None:
        """The batches that follow come from `report.model`, planned as `report` says."""

    def acknowledged(self, batch: Batch, delivery: Delivery) -> None:
        """`batch` joined the handed-over prefix that the next checkpoint save records."""

    def persist(self) -> None:
        """Make durable what the acknowledged batches left behind; runs on the state thread right
        before each checkpoint save, so it never records less than the checkpoint."""

    def end_model(self, model: str, outcome: str) -> None:
        """The model's run ended: complete, failed or interrupted."""

    def halt(self) -> None:
        """Start no further delivery (already-started ones finish or are cancelled)."""

    async def aclose(self) -> None:
        """Release connections, threads and files."""
