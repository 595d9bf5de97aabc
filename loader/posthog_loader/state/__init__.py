"""Where a load stands between runs: checkpoint, record of delivered uuids, quarantine."""

from posthog_loader.state.base import (
    DELIVERED,
    QUARANTINED,
    RECORD_SCHEMA,
    Checkpoint,
    DayEventCounts,
    Forget,
    StateStore,
    StateUpdate,
)
from posthog_loader.state.file import FileStateStore
from posthog_loader.state.warehouse import WarehouseStateStore

__all__ = [
    "DELIVERED",
    "QUARANTINED",
    "RECORD_SCHEMA",
    "Checkpoint",
    "DayEventCounts",
    "FileStateStore",
    "Forget",
    "StateStore",
    "StateUpdate",
    "WarehouseStateStore",
]
