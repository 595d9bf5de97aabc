"""What a run did: per-model counts, the JSON report and the closing summary table."""

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

from posthog_loader.batching import Batch
from posthog_loader.read import ReadPlan, Revisit
from posthog_loader.rows import QuarantinedRow
from posthog_loader.sharding import UNSHARDED_KEY
from posthog_loader.sink import Delivery
from posthog_loader.state import Checkpoint

# Enough quarantined rows in the report to see the pattern; all of them are in the quarantine store.
QUARANTINE_SAMPLES = 20


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


@dataclass
class ModelReport:
    model: str
    relation: str
    # not_started → running → complete | failed | interrupted
    status: str = "not_started"
    rows_planned: int = 0
    rows_read: int = 0
    sent: int = 0
    sent_live: int = 0
    held: int = 0
    missing_timestamp: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    quarantine_samples: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    retried_requests: int = 0
    wire_bytes: int = 0
    events_by_name: Counter[str] = field(default_factory=Counter)
    first_timestamp: dt.datetime | None = None
    last_timestamp: dt.datetime | None = None
    duration_seconds: float = 0.0
    checkpoint_before: Checkpoint = field(default_factory=Checkpoint)
    checkpoint_after: Checkpoint = field(default_factory=Checkpoint)
    # Rows before the checkpoint read again (late rows, new links); None: no checkpoint yet.
    revisit: Revisit | None = None
    # Rows PostHog refused in earlier runs, sent again (--retry-quarantined).
    retried_quarantined: int = 0

    def planned(self, plan: ReadPlan, *, hold_recent: bool) -> None:
        self.rows_planned = plan.rows
        self.held = plan.recent if hold_recent else 0
        self.missing_timestamp = plan.missing_timestamp

    def read(self, batch: Batch) -> None:
        self.rows_read += batch.rows_read
        if self.first_timestamp is None:
            self.first_timestamp = batch.first_timestamp
        self.last_timestamp = batch.end.timestamp

    def delivered(self, batch: Batch, delivery: Delivery) -> None:
        self.sent += delivery.delivered
        if not batch.historical:
            self.sent_live += delivery.delivered
        self.events_by_name.update(delivery.events_by_name)
        self.requests += delivery.requests
        self.retried_requests += delivery.retries
        self.wire_bytes += delivery.wire_bytes
        self._quarantined(delivery.quarantined)

    def _quarantined(self, rows: list[QuarantinedRow]) -> None:
        self.quarantined.update(str(row.reason) for row in rows)
        room = QUARANTINE_SAMPLES - len(self.quarantine_samples)
        self.quarantine_samples.extend(
            {
                "uuid": row.uuid,
                "event": row.event,
                "distinct_id": row.distinct_id,
                "timestamp": _iso(row.timestamp),
                "reason": str(row.reason),
                "detail": row.detail,
            }
            for row in rows[: max(room, 0)]
        )

    @property
    def undelivered(self) -> int:
        return self.quarantined.total() + self.missing_timestamp

    def to_dict(self) -> dict[str, Any]:
        throughput = self.sent / self.duration_seconds if self.duration_seconds else 0.0
        position = self.checkpoint_after.position
        revisit = None if self.revisit is None else {"from": _iso(self.revisit.since)}
        return {
            "model": self.model,
            "relation": self.relation,
            "status": self.status,
            "rows_planned": self.rows_planned,
            "rows_read": self.rows_read,
            "sent": self.sent,
            "sent_live": self.sent_live,
            "held": self.held,
            "quarantined": self.quarantined.total(),
            "quarantined_by_reason": dict(sorted(self.quarantined.items())),
            "quarantine_samples": self.quarantine_samples,
            "missing_timestamp": self.missing_timestamp,
            "requests": self.requests,
            "retried_requests": self.retried_requests,
            "wire_bytes": self.wire_bytes,
            "events_by_name": dict(self.events_by_name.most_common()),
            "first_timestamp": _iso(self.first_timestamp),
            "last_timestamp": _iso(self.last_timestamp),
            "duration_seconds": round(self.duration_seconds, 3),
            "events_per_second": round(throughput, 1),
            "delivered_before_this_run": self.checkpoint_before.rows_delivered,
            "delivered_total": self.checkpoint_after.rows_delivered,
            "quarantined_total": self.checkpoint_after.rows_quarantined,
            "checkpoint": {"timestamp": _iso(position.timestamp), "uuid": position.uuid}
            if position
            else None,
            "revisit": revisit,
            "retried_quarantined": self.retried_quarantined,
            "recorded_from": _iso(self.checkpoint_after.recorded_from),
        }


@dataclass
class RunReport:
    # capture: to `host`; export: files under `destination`.
    lane: str
    host: str | None
    destination: str | None
    dry_run: bool
    target: str
    recent_mode: str
    recent_cutoff: dt.datetime
    shard: str
    state: str
    quarantine: str
    started_at: dt.datetime
    models: list[ModelReport] = field(default_factory=list)
    finished_at: dt.datetime | None = None
    exit_code: int | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        models = [model.to_dict() for model in self.models]
        totals = {
            key: sum(model[key] for model in models)
            for key in (
                "rows_read",
                "sent",
                "sent_live",
                "held",
                "quarantined",
                "missing_timestamp",
                "requests",
                "retried_requests",
                "wire_bytes",
            )
        }
        duration = sum(model.duration_seconds for model in self.models)
        totals["duration_seconds"] = round(duration, 3)
        totals["events_per_second"] = round(totals["sent"] / duration, 1) if duration else 0.0
        return {
            "lane": self.lane,
            "host": self.host,
            "destination": self.destination,
            "dry_run": self.dry_run,
            "target": self.target,
            "recent_mode": self.recent_mode,
            "recent_cutoff": _iso(self.recent_cutoff),
            "shard": self.shard,
            "state": self.state,
            "quarantine": self.quarantine,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "exit_code": self.exit_code,
            "error": self.error,
            "totals": totals,
            "models": models,
        }

    def summary_table(self) -> Table:
        if self.lane == "export":
            title, handed_over = f"PostHog export to {self.destination}", "exported"
        else:
            title, handed_over = "PostHog load", "sent"
        if self.dry_run:
            title += " (dry run: nothing sent)"
        table = Table(title=title, title_justify="left")
        for header in ("model", "status", "read", handed_over, "quarantined", "held", "retries"):
            table.add_column(header, justify="left" if header in ("model", "status") else "right")
        table.add_column("events/s", justify="right")
        for model in self.models:
            rate = model.sent / model.duration_seconds if model.duration_seconds else 0
            table.add_row(
                model.model,
                model.status,
                f"{model.rows_read:,}",
                f"{model.sent:,}" + (f" ({model.sent_live:,} live)" if model.sent_live else ""),
                f"{model.undelivered:,}",
                f"{model.held:,}",
                f"{model.retried_requests:,}",
                f"{rate:,.0f}",
            )
        return table

    def print_summary(self, console: Console) -> None:
        console.print(self.summary_table())
        for model in self.models:
            if model.retried_quarantined:
                console.print(
                    f"{model.model}: {model.retried_quarantined:,} rows PostHog refused before were "
                    "sent again (--retry-quarantined); those refused again are still quarantined"
                )
            if model.quarantined:
                reasons = ", ".join(
                    f"{reason} {count:,}" for reason, count in model.quarantined.items()
                )
                console.print(f"{model.model}: quarantined {reasons} → {self.quarantine}")
            if model.missing_timestamp:
                console.print(
                    f"{model.model}: {model.missing_timestamp:,} rows have no timestamp and cannot "
                    f"be ordered or sent: select * from {model.relation} where timestamp is null"
                )
            if model.held:
                console.print(
                    f"{model.model}: {model.held:,} events newer than "
                    f"{_iso(self.recent_cutoff)} held back (PostHog's historical lane takes events "
                    "48 h or older); "
                    + (
                        "the next export writes them"
                        if self.lane == "export"
                        else "the next run sends them, or use --recent live"
                    )
                )
        shard = "" if self.shard == UNSHARDED_KEY else f" (shard {self.shard})"
        # Unwrapped: it names a path or table to copy.
        console.print(f"Checkpoint: {self.state}{shard}", soft_wrap=True)
