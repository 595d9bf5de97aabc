"""Sharded loading: n load-posthog processes, `--shard 0/n` … `--shard n-1/n`, at once, on the same
events, into one capture server. Checks that together they deliver every event exactly once.

    .venv/bin/python bench/bench_shards.py --events 1000000 --shards 1,2,4

The source is bench_loader.py's synthetic posthog_events table (with the views' shard_key); the
shards share one --state-file (the DuckDB file is opened read-only by each, which is what lets
them read it at once). Wall time runs from the first start to the last exit.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson

from bench_loader import (
    RESULTS,
    SYNTHETIC_RELATION,
    TOKEN,
    CaptureProcess,
    build_synthetic,
    write_project,
)


@dataclass
class ShardedRun:
    shards: int
    events: int
    seconds: float
    events_per_second: float
    # Sum over the shard processes (user + system).
    cpu_seconds: float
    sent_per_shard: list[int]
    delivered: int
    unique_uuids: int


def run_shards(capture: CaptureProcess, project: Path, shards: int, events: int) -> ShardedRun:
    capture.reset()
    env = {**os.environ, "POSTHOG_API_KEY": TOKEN}
    env.pop("DBT_PROFILES_DIR", None)
    loader = str(Path(sys.executable).with_name("load-posthog"))
    with tempfile.TemporaryDirectory() as scratch:
        state = Path(scratch) / "state.json"
        reports = [Path(scratch) / f"report-{index}.json" for index in range(shards)]
        started = time.perf_counter()
        common = [loader, "--project-dir", str(project), "--models", "events"]
        # No rate budget: this measures the loader's own speed against a local server.
        common += ["--host", capture.url, "--state-file", str(state), "--rate", "0"]
        processes = [
            subprocess.Popen(
                [*common, "--shard", f"{index}/{shards}", "--report", str(reports[index])],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            for index in range(shards)
        ]
        cpu = 0.0
        for process in processes:
            _, status, usage = os.wait4(process.pid, 0)
            cpu += usage.ru_utime + usage.ru_stime
            if os.waitstatus_to_exitcode(status) != 0:
                assert process.stderr is not None
                raise SystemExit(f"a shard failed: {process.stderr.read().decode()}")
        seconds = time.perf_counter() - started
        sent = [orjson.loads(report.read_bytes())["totals"]["sent"] for report in reports]
    stats = capture.stats()
    return ShardedRun(
        shards,
        events,
        seconds,
        events / seconds,
        cpu,
        sent,
        stats["events"],
        stats["unique_uuids"],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--shards", default="1,2,4", help="comma-separated shard counts to run")
    parser.add_argument("--source-db", type=Path, default=RESULTS / "bench_source.duckdb")
    parser.add_argument("--server-workers", type=int, default=2)
    arguments = parser.parse_args()

    RESULTS.mkdir(parents=True, exist_ok=True)
    source = arguments.source_db.resolve()
    build_synthetic(source, SYNTHETIC_RELATION, arguments.events)
    capture = CaptureProcess(arguments.server_workers)
    results = []
    try:
        with tempfile.TemporaryDirectory() as project:
            write_project(Path(project), source, SYNTHETIC_RELATION)
            for shards in (int(count) for count in arguments.shards.split(",")):
                result = run_shards(capture, Path(project), shards, arguments.events)
                print(
                    f"{shards} shard(s): {result.seconds:.1f}s, {result.events_per_second:,.0f} "
                    f"events/s, per shard {result.sent_per_shard}",
                    flush=True,
                )
                results.append(result)
    finally:
        capture.close()

    header = ("shards", "seconds", "events/s", "CPU s", "per shard", "delivered", "unique")
    print("\n{:>6} {:>8} {:>10} {:>7}  {:<36} {:>10} {:>10}".format(*header))
    for result in results:
        print(
            f"{result.shards:>6} {result.seconds:>8.1f} {result.events_per_second:>10,.0f} "
            f"{result.cpu_seconds:>7.1f}  {result.sent_per_shard!s:<36} {result.delivered:>10,} "
            f"{result.unique_uuids:>10,}"
        )
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"bench_shards_{arguments.events}_{stamp}.json").write_bytes(
        orjson.dumps([asdict(result) for result in results], option=orjson.OPT_INDENT_2)
    )
    for result in results:
        if result.delivered != result.events or result.unique_uuids != result.events:
            raise SystemExit(
                f"{result.shards} shards delivered {result.delivered:,} events "
                f"({result.unique_uuids:,} distinct) of {result.events:,}"
            )


if __name__ == "__main__":
    main()
