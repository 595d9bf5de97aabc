"""Benchmark load-posthog against the posthog SDK loop, both into the same capture server.

    .venv/bin/python bench/bench_loader.py --events 1000000
    .venv/bin/python bench/bench_loader.py --events 10000000 --sdk-events 0   # RSS at 10M

The fake PostHog (pytests/support/fake_posthog) runs in its own process; the loader and the
SDK loop each run in their own process too, so peak RSS is measured per process (os.wait4).
By default the source is a synthetic table shaped like posthog_events (realistic ~650-byte
payloads generated in DuckDB SQL); --source-db/--relation point it at any DuckDB relation with
the contract columns instead, e.g. the real posthog_events view once dbt builds it.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import httpx
import orjson

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
PYTESTS = REPO / "pytests"
TOKEN = "phc_benchmark_token"
SYNTHETIC_RELATION = "bench_posthog_events"
PROJECT = "posthog_bench"

# One row per event: payloads are built the way the contract views build them (to_json of a
# struct), with the properties a web/mobile analytics event typically carries.
SYNTHETIC_SQL = """
create or replace table {relation} as
with numbered as (
    select
        i,
        timestamp '2023-01-01'
            + to_microseconds((i::hugeint * {span_us} // {events})::bigint) as ts,
        md5(i::varchar || '-bench') as h,
        hash(i) as r
    from range({events}) as t(i)
), shaped as (
    select
        i, ts, r,
        substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-5' || substr(h, 14, 3) || '-a'
            || substr(h, 18, 3) || '-' || substr(h, 21, 12) as uuid,
        ['$pageview', '$autocapture', '$pageleave', 'signed_up', 'checkout_completed',
         'search_submitted', '$screen', 'feature_used'][1 + (r % 8)::int] as event,
        'user_' || (hash(i, 'user') % 200000)::varchar as distinct_id,
        ['/pricing', '/signup', '/docs/getting-started', '/', '/blog/unicode-post', '/app/dashboard'
        ][1 + (r % 6)::int] as path
    from numbered
)
select
    uuid, event, distinct_id, ts as timestamp,
    -- as the dbt views compute it, for --shard i/n
    cast('0x' || substr(uuid, 29, 8) as bigint) as shard_key,
    to_json({{
        'uuid': uuid,
        'event': event,
        'distinct_id': distinct_id,
        'timestamp': strftime(ts, '%Y-%m-%dT%H:%M:%S.%f') || '+00:00',
        'properties': {{
            '$current_url': 'https://www.northwind.io' || path || '?utm_source=email&ref=' || i,
            '$host': 'www.northwind.io',
            '$pathname': path,
            '$browser': ['Chrome', 'Safari', 'Firefox', 'Edge'][1 + (r % 4)::int],
            '$browser_version': 120 + (r % 7)::int,
            '$os': ['Mac OS X', 'Windows', 'iOS', 'Android'][1 + (r % 4)::int],
            '$device_type': ['Desktop', 'Mobile', 'Tablet'][1 + (r % 3)::int],
            '$referrer': 'https://www.google.com/',
            '$screen_height': 900 + (r % 300)::int,
            '$screen_width': 1440 + (r % 500)::int,
            '$session_id': md5(distinct_id || (i // 40)::varchar),
            '$lib': 'web',
            '$lib_version': '1.130.0',
            '$geoip_disable': true,
            '$geoip_country_name': ['United States', 'Germany', 'Japan'][1 + (r % 3)::int],
            'plan': ['free', 'pro', 'enterprise'][1 + (r % 3)::int],
            'utm_source': 'newsletter',
            'heap_event_id': i::varchar,
            'migrated_from': 'heap'
        }}
    }})::varchar as payload
from shaped
order by ts
"""


@dataclass
class Measurement:
    name: str
    events: int
    seconds: float
    events_per_second: float
    # CPU of the measured process itself (the capture server's is not included).
    cpu_seconds: float
    events_per_cpu_second: float
    peak_rss_mb: float
    delivered: int
    unique_uuids: int | None


def build_synthetic(path: Path, relation: str, events: int, span_days: int = 700) -> None:
    """`events` rows spread evenly over `span_days` (the table is reused if it has that many)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        columns = {
            name
            for (name,) in con.execute(
                "select column_name from information_schema.columns where table_name = ?",
                [relation],
            ).fetchall()
        }
        if (
            "shard_key" in columns
            and con.execute(f"select count(*) from {relation}").fetchone()[0] == events
        ):
            return
        started = time.perf_counter()
        span_us = span_days * 86_400 * 1_000_000  # by default ~two years of history
        con.execute(SYNTHETIC_SQL.format(relation=relation, events=events, span_us=span_us))
        size = con.execute(f"select avg(strlen(payload)) from {relation}").fetchone()[0]
        print(
            f"generated {events:,} events in {time.perf_counter() - started:.1f}s, "
            f"payload {size:.0f} B on average",
            flush=True,
        )


def write_project(root: Path, source: Path, relation: str) -> None:
    (root / "dbt_project.yml").write_text(f"name: {PROJECT}\nprofile: bench\n")
    (root / "profiles.yml").write_text(
        f"bench:\n  target: bench\n  outputs:\n    bench:\n      type: duckdb\n"
        f"      path: {source}\n      schema: main\n"
    )
    database = source.stem
    node = {
        "database": database,
        "schema": "main",
        "alias": relation,
        "name": "posthog_events",
        "relation_name": f'"{database}"."main"."{relation}"',
    }
    (root / "target").mkdir(exist_ok=True)
    (root / "target" / "manifest.json").write_bytes(
        orjson.dumps(
            {
                "metadata": {"adapter_type": "duckdb"},
                "nodes": {f"model.{PROJECT}.posthog_events": node},
            }
        )
    )


def _peak_rss_kib(pid: int) -> int:
    """VmHWM, the peak RSS of this process alone (ru_maxrss counts pre-exec parent pages too)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


@dataclass
class ChildRun:
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    output: bytes


def run_measured(command: list[str], env: dict[str, str]) -> ChildRun:
    """Run a child process and measure its wall time, CPU time (user + system) and peak RSS."""
    started = time.perf_counter()
    peak = 0
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
        while True:
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                peak = max(peak, _peak_rss_kib(process.pid))
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        output.seek(0)
        text = output.read()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.stdout.buffer.write(text)
        raise SystemExit(f"{command[0]} exited with {code}")
    return ChildRun(seconds, usage.ru_utime + usage.ru_stime, peak / 1024, text)


class CaptureProcess:
    def __init__(self, workers: int) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "support.fake_posthog",
                "--port",
                "0",
                "--token",
                TOKEN,
                "--record",
                "uuids",
                "--workers",
                str(workers),
            ],
            stdout=subprocess.PIPE,
            text=True,
            cwd=PYTESTS,
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip().removeprefix("listening on ")
        self.client = httpx.Client(base_url=self.url, timeout=60)

    def stats(self) -> dict:
        return self.client.get("/_admin/stats").json()

    def reset(self) -> None:
        self.client.post("/_admin/reset")

    def close(self) -> None:
        self.client.close()
        self.process.terminate()
        self.process.wait(30)


def measure_loader(
    capture: CaptureProcess, project: Path, events: int, extra: list[str]
) -> Measurement:
    capture.reset()
    env = {**os.environ, "POSTHOG_API_KEY": TOKEN}
    env.pop("DBT_PROFILES_DIR", None)
    command = [
        str(Path(sys.executable).with_name("load-posthog")),
        "--project-dir",
        str(project),
        "--models",
        "events",
        "--host",
        capture.url,
        "--reset",
        # No rate budget: this measures the loader's own speed against a local server.
        "--rate",
        "0",
        "--report",
        str(RESULTS / "loader_report.json"),
        *extra,
    ]
    run = run_measured(command, env)
    report = orjson.loads((RESULTS / "loader_report.json").read_bytes())
    print(
        f"loader: {events:,} events in {run.seconds:.1f}s, of which "
        f"{report['totals']['duration_seconds']:.1f}s sending",
        flush=True,
    )
    return _measurement("load-posthog", events, run, capture.stats())


def _measurement(name: str, events: int, run: ChildRun, stats: dict) -> Measurement:
    return Measurement(
        name,
        events,
        run.seconds,
        events / run.seconds,
        run.cpu_seconds,
        events / run.cpu_seconds,
        run.peak_rss_mb,
        stats["events"],
        stats["unique_uuids"],
    )


def measure_sdk(capture: CaptureProcess, source: Path, relation: str, events: int) -> Measurement:
    capture.reset()
    command = [
        sys.executable,
        __file__,
        "sdk-worker",
        "--source-db",
        str(source),
        "--relation",
        relation,
        "--events",
        str(events),
        "--host",
        capture.url,
    ]
    run = run_measured(command, dict(os.environ))
    print(f"sdk: {events:,} events in {run.seconds:.1f}s", flush=True)
    return _measurement("posthog SDK loop", events, run, capture.stats())


def sdk_worker(arguments: argparse.Namespace) -> None:
    """The loop PostHog's migration guides show: one capture() per row, then flush()."""
    from posthog import Posthog

    # Defaults as documented, except the queue: at its default (10,000) the SDK silently drops
    # events once the loop outruns its sender thread, which would flatter it.
    client = Posthog(
        TOKEN, host=arguments.host, historical_migration=True, max_queue_size=arguments.events + 1
    )
    with duckdb.connect(str(arguments.source_db), read_only=True) as con:
        rows = con.sql(
            f"select payload from {arguments.relation} order by timestamp, uuid "
            f"limit {arguments.events}"
        ).to_arrow_reader(10_000)
        for batch in rows:
            for payload in batch.column("payload").to_pylist():
                event = orjson.loads(payload)
                client.capture(
                    event["event"],
                    distinct_id=event["distinct_id"],
                    properties=event["properties"],
                    timestamp=event["timestamp"],
                    uuid=event["uuid"],
                )
        client.flush()
        client.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", default="run", choices=["run", "sdk-worker"])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument(
        "--sdk-events",
        type=int,
        default=100_000,
        help="rows for the SDK loop (0 skips it); its events/s is per row",
    )
    parser.add_argument("--source-db", type=Path, default=RESULTS / "bench_source.duckdb")
    parser.add_argument(
        "--relation",
        default=SYNTHETIC_RELATION,
        help=f"relation with the contract columns; {SYNTHETIC_RELATION} is generated if needed",
    )
    parser.add_argument("--host", help="(sdk-worker) capture server URL")
    parser.add_argument(
        "--server-workers",
        type=int,
        default=2,
        help="capture server processes sharing the port, so it is not the bottleneck",
    )
    parser.add_argument(
        "--loader-arg",
        action="append",
        default=[],
        help="extra load-posthog argument (repeatable), e.g. --loader-arg=--concurrency=8",
    )
    arguments = parser.parse_args()
    if arguments.mode == "sdk-worker":
        sdk_worker(arguments)
        return

    RESULTS.mkdir(parents=True, exist_ok=True)
    source = arguments.source_db.resolve()
    if arguments.relation == SYNTHETIC_RELATION:
        build_synthetic(source, arguments.relation, arguments.events)
    capture = CaptureProcess(arguments.server_workers)
    try:
        with tempfile.TemporaryDirectory() as project:
            write_project(Path(project), source, arguments.relation)
            results = [
                measure_loader(capture, Path(project), arguments.events, arguments.loader_arg)
            ]
        if arguments.sdk_events:
            results.append(measure_sdk(capture, source, arguments.relation, arguments.sdk_events))
    finally:
        capture.close()

    header = ("", "events", "seconds", "events/s", "CPU s", "ev/CPU-s", "peak RSS", "delivered")
    print("\n{:18} {:>11} {:>8} {:>10} {:>7} {:>9} {:>9} {:>10}".format(*header))
    for result in results:
        print(
            f"{result.name:18} {result.events:>11,} {result.seconds:>8.1f} "
            f"{result.events_per_second:>10,.0f} {result.cpu_seconds:>7.1f} "
            f"{result.events_per_cpu_second:>9,.0f} {result.peak_rss_mb:>6.0f} MB "
            f"{result.delivered:>10,}"
        )
    if len(results) == 2:
        loader, sdk = results
        print(
            f"\nload-posthog / SDK loop: {loader.events_per_second / sdk.events_per_second:.0f}x "
            f"events/s, {loader.events_per_cpu_second / sdk.events_per_cpu_second:.0f}x events "
            "per CPU-second"
        )
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"bench_{arguments.events}_{stamp}.json").write_bytes(
        orjson.dumps([asdict(result) for result in results], option=orjson.OPT_INDENT_2)
    )
    for result in results:
        if result.delivered != result.events or result.unique_uuids not in (None, result.events):
            raise SystemExit(f"{result.name} delivered {result.delivered:,} of {result.events:,}")


if __name__ == "__main__":
    main()
