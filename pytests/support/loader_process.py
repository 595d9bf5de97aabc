"""load-posthog as a separate process (for kill -9 and overlapping runs), and waiting on it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

DEADLINE_SECONDS = 60


def start_loader(
    project_dir: Path, env: Mapping[str, str | None], *args: str, output: int = subprocess.PIPE
) -> subprocess.Popen[bytes]:
    """`python -m posthog_loader --project-dir ...` with `env` over this process's environment
    (None unsets), its stdout and stderr to `output`."""
    merged = {**os.environ, **{key: value for key, value in env.items() if value is not None}}
    for key in [key for key, value in env.items() if value is None]:
        merged.pop(key, None)
    return subprocess.Popen(
        [sys.executable, "-m", "posthog_loader", "--project-dir", str(project_dir), *args],
        env=merged,
        stdout=output,
        stderr=output,
    )


def wait_for(condition: Callable[[], object], what: str, seconds: float = DEADLINE_SECONDS) -> None:
    """Poll until `condition()` holds; fail the test after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)
