"""Where a load stands between runs: checkpoint, record of delivered uuids, quarantine."""

from collections.abc import Callable
from pathlib import Path

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
from posthog_loader.warehouse import Warehouse

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
    "open_store",
]


def open_store(
    warehouse: Warehouse,
    *,
    state_file: Path | None,
    state_schema: str | None,
    warn: Callable[[str], None],
) -> StateStore:
    """The --state-file store, else the state tables in --state-schema (default: the target's)."""
    if state_file is not None:
        return FileStateStore(state_file, warehouse, warn)
    database, schema = warehouse.default_location
    return WarehouseStateStore(warehouse, database, state_schema or schema)
