"""Is the polite default kept? `load-posthog` with its default budget (no --rate) against the fake
PostHog in a process of its own, which measures the rate it accepted events at (its
`/_admin/stats` `events_per_second`: first to last accepted request).

    .venv/bin/python bench/bench_rate.py --events 120000          # ~1 minute at 2,000 events/s
    .venv/bin/python bench/bench_rate.py --events 120000 --shards 2

The goal: within ±5% of the budget. `uptime`'s load average is printed beside the result.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_export import load_average
from bench_loader import (
    RESULTS,
    SYNTHETIC_RELATION,
    TOKEN,
    CaptureProcess,
    build_synthetic,
    write_project,
)
from posthog_loader.pacing import DEFAULT_RATE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=120_000)
    parser.add_argument("--shards", type=int, default=1, help="loaders sharing the budget")
    parser.add_argument("--source-db", type=Path, default=RESULTS / "bench_source_rate.duckdb")
    arguments = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    source = arguments.source_db.resolve()
    # A steady load: a month of history, thousands of events a day, so requests are full (a
    # sparse history makes requests of one day each, small, and the load slower than its budget).
    build_synthetic(source, SYNTHETIC_RELATION, arguments.events, span_days=30)
    capture = CaptureProcess(1)
    env = {**os.environ, "POSTHOG_API_KEY": TOKEN}
    env.pop("DBT_PROFILES_DIR", None)
    before = load_average()
    try:
        with tempfile.TemporaryDirectory() as scratch:
            project = Path(scratch)
            write_project(project, source, SYNTHETIC_RELATION)
            loader = str(Path(sys.executable).with_name("load-posthog"))
            common = [loader, "--project-dir", str(project), "--models", "events", "--host"]
            common += [capture.url, "--state-file", str(project / "state.json"), "--reset"]
            shards = arguments.shards
            processes = [
                subprocess.Popen(
                    [*common, *(["--shard", f"{index}/{shards}"] if shards > 1 else [])],
                    env=env,
                    stdout=subprocess.DEVNULL,
                )
                for index in range(shards)
            ]
            for process in processes:
                if process.wait() != 0:
                    raise SystemExit("a loader failed")
        stats = capture.stats()
    finally:
        capture.close()
    achieved = stats["events_per_second"]
    deviation = achieved / DEFAULT_RATE - 1
    print(
        f"{stats['events']:,} events from {arguments.shards} loader(s) at the default budget of "
        f"{DEFAULT_RATE:,.0f} events/s: the fake measured {achieved:,.1f} events/s "
        f"({deviation:+.2%}); load average {before} → {load_average()}"
    )
    if stats["events"] != arguments.events or abs(deviation) > 0.05:
        raise SystemExit("outside ±5% of the budget, or events missing")


if __name__ == "__main__":
    main()
