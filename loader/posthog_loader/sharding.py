"""`--shard i/n`: which slice of each contract view one loader process owns.

The views carry `shard_key`, a stable integer from the uuid's last 8 hex digits (the same on every
warehouse), so `mod(shard_key, n) = i` splits every model into n disjoint slices whose union is the
whole, computed by the warehouse. Each slice keeps its own checkpoint and record under its own key.
"""

import re
from dataclasses import dataclass

from posthog_loader.errors import ConfigError
from posthog_loader.read import RowFilter, qualified_column
from posthog_loader.warehouse import Warehouse

# The state key of an unsharded load (and of --shard 0/1, which is the same thing).
UNSHARDED_KEY = "all"
_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    index: int = 0
    count: int = 1

    @property
    def key(self) -> str:
        """Where this slice's checkpoint and record live in the state store."""
        return UNSHARDED_KEY if self.count == 1 else f"{self.index}/{self.count}"

    @property
    def sharded(self) -> bool:
        return self.count > 1

    def same_split(self, key: str) -> bool:
        """Whether the state saved under `key` belongs to this way of splitting the rows."""
        if not self.sharded:
            return key == UNSHARDED_KEY
        return key != UNSHARDED_KEY and key.endswith(f"/{self.count}")

    def share_of(self, rate: float | None) -> float | None:
        """This slice's part of a global events/second budget: n loaders together stay under it."""
        return None if rate is None else rate / self.count


def parse_shard(text: str | None) -> Shard:
    if text is None:
        return Shard()
    match = _SPEC.match(text)
    if match is None:
        raise ConfigError(
            f"--shard {text!r}: expected i/n, e.g. 0/4 for the first of four loaders "
            "(i from 0 to n-1)."
        )
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1 or not 0 <= index < count:
        raise ConfigError(
            f"--shard {text!r}: i must be between 0 and n-1 (n ≥ 1); the n loaders use 0/n, "
            f"1/n, … {max(count, 1) - 1}/n."
        )
    return Shard(index, count)


def shard_filter(shard: Shard, warehouse: Warehouse) -> RowFilter | None:
    """The rows of this slice, selected by the warehouse (None: unsharded, every row)."""
    if not shard.sharded:
        return None
    dialect = warehouse.dialect
    column = qualified_column(warehouse, "shard_key")
    return RowFilter(
        where=f"mod({column}, {dialect.param('shard_count')}) = {dialect.param('shard_index')}",
        params={"shard_count": shard.count, "shard_index": shard.index},
    )
