"""A disk that fills up: files opened for writing under one folder share a byte budget; the write
that crosses it stores what fits and raises ENOSPC, as a real full disk does (a torn tail included).

For in-process runs (CliRunner); a soak in other processes uses a small tmpfs when it can mount one.
"""

from __future__ import annotations

import errno
import os
import pathlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any


class _Budget:
    def __init__(self, free_bytes: int) -> None:
        self.free = free_bytes

    def take(self, wanted: int) -> int:
        granted = max(0, min(wanted, self.free))
        self.free -= granted
        return granted


class _FillingFile:
    """A binary file whose writes draw on the budget."""

    def __init__(self, handle: IO[bytes], budget: _Budget) -> None:
        self._handle = handle
        self._budget = budget

    def write(self, data: bytes) -> int:
        granted = self._budget.take(len(data))
        self._handle.write(data[:granted])
        if granted < len(data):
            self._handle.flush()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return granted

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)

    def __enter__(self) -> _FillingFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._handle.close()


class FullDisk:
    def __init__(self, folder: pathlib.Path) -> None:
        self.folder = folder.resolve()
        self._budget = _Budget(1 << 62)

    def fill(self, free_bytes: int = 0) -> None:
        """From now on only `free_bytes` more can be written."""
        self._budget.free = free_bytes

    def free_up(self) -> None:
        self._budget.free = 1 << 62

    def wraps(self, path: pathlib.Path, mode: str) -> bool:
        writing = any(flag in mode for flag in "wax+")
        return writing and "b" in mode and path.resolve().is_relative_to(self.folder)

    @property
    def budget(self) -> _Budget:
        return self._budget


@contextmanager
def full_disk(folder: pathlib.Path) -> Iterator[FullDisk]:
    """While active, Path.open under `folder` for binary writing goes through the disk's budget."""
    disk = FullDisk(folder)
    real_open = pathlib.Path.open

    def open_on_disk(self: pathlib.Path, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        handle = real_open(self, mode, *args, **kwargs)
        return _FillingFile(handle, disk.budget) if disk.wraps(self, mode) else handle

    pathlib.Path.open = open_on_disk  # type: ignore[method-assign]
    try:
        yield disk
    finally:
        pathlib.Path.open = real_open  # type: ignore[method-assign]
