"""Benchmark `dbt build` on generated Heap data against the pandas row loop of PostHog's Heap guide.

For each size: generate a Heap Connect schema into a fresh DuckDB file, run the real `dbt build` (models and
every test), and record wall time and the peak resident memory of the dbt process tree. At the baseline size,
also time the row loop PostHog's guide gives (pandas `iterrows`, a key mapping, skipped nulls, a platform
split) transforming the same event tables into event dicts, without sending them.

    .venv/bin/python bench/bench_dbt_build.py --events 1000000 --events 10000000 --baseline-events 1000000
    .venv/bin/python bench/bench_dbt_build.py --events 10000000 --duckdb-setting memory_limit=4GB
    .venv/bin/python bench/bench_dbt_build.py --events 10000000 --duckdb-setting memory_limit=2GB \
        --kill-at 0.5   # then a build killed half way and run again: the extra work resuming costs

Each size's DuckDB file (and DuckDB's spill folder beside it) is deleted once measured, unless
--keep-databases: at 100M events the file is about 10 GB. With --sample-dir, each size's generated sample is kept
there and reused by later runs (generation, about 20 s per million events, is then measured only once).

Results are printed as a Markdown table and written to bench/results/dbt_build.json, each with the machine's
load average (1 minute) before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd
import psutil
import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
HEAP = "heap_main_production"
NOT_EVENTS = {"users", "all_events", "user_migrations", "sessions"}

# The mapping and omissions of PostHog's Heap guide (docs/migrate/heap), as its script applies them.
GUIDE_KEY_MAPPING = {
    "browser": "$browser",
    "browser_version": "$browser_version",
    "device_type": "$device_type",
    "library": "$lib",
    "ip": "$ip",
    "city": "$geoip_city_name",
    "country": "$geoip_country_name",
    "region": "$geoip_subdivision_1_name",
    "landing_page": "$current_url",
    "path": "$pathname",
    "referrer": "$referrer",
}
GUIDE_OMITTED = {"session_time", "user_id", "time", "event_id", "session_id", "domain"}


def run_measured(
    command: list[str], env: dict[str, str], cwd: Path, kill_after: float | None = None
) -> tuple[float, int, int]:
    """Wall seconds, peak RSS (bytes) of the process tree, exit code; killed (SIGKILL) after
    `kill_after` seconds if given, as a power cut or the out-of-memory killer would."""
    started = time.perf_counter()
    process = psutil.Popen(
        command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    peak = 0
    while process.poll() is None:
        try:
            tree = [process, *process.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        if kill_after is not None and time.perf_counter() - started >= kill_after:
            process.kill()
            process.wait()
            break
        time.sleep(0.2)
    return time.perf_counter() - started, peak, process.returncode


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def write_profile(path: Path, settings: dict[str, str]) -> None:
    """profiles.example.yml as a user copies it, with DuckDB settings added to its duckdb target."""
    profile = yaml.safe_load((REPO / "profiles.example.yml").read_text())
    if settings:
        duckdb_target = profile["posthog_migrate"]["outputs"]["duckdb"]
        duckdb_target.setdefault("settings", {}).update(settings)
    path.write_text(yaml.safe_dump(profile))


def generate_sample(
    size: int, duckdb_path: Path, sample: Path | None, env: dict[str, str]
) -> tuple[float | None, int | None]:
    """Generate `size` Heap events into `duckdb_path`, or copy the kept `sample` there (generating it first
    when missing). Wall seconds and peak RSS of the generation, None when a kept sample was reused."""
    measured: tuple[float | None, int | None] = (None, None)
    if sample is None or not sample.exists():
        generate = [str(BIN / "posthog-migrate-sample"), "heap", "--events", str(size)]
        seconds, peak, code = run_measured(
            [*generate, "--duckdb-path", str(sample or duckdb_path)], env, REPO
        )
        assert code == 0, "sample generation failed"
        measured = (seconds, peak)
    if sample is not None:
        shutil.copyfile(sample, duckdb_path)
    return measured


def guide_row_loop(duckdb_path: Path) -> tuple[int, float, float]:
    """Rows transformed, seconds reading into pandas, seconds in the row loop."""
    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        tables = [
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables where table_schema = ?", [HEAP]
            ).fetchall()
            if name not in NOT_EVENTS and not name.startswith("_")
        ]
        read_seconds = loop_seconds = 0.0
        rows = 0
        for table in tables:
            started = time.perf_counter()
            frame = con.execute(f'select * from {HEAP}."{table}"').df()
            read_seconds += time.perf_counter() - started
            started = time.perf_counter()
            events = [guide_event(table, row.to_dict()) for _, row in frame.iterrows()]
            loop_seconds += time.perf_counter() - started
            rows += len(events)
    return rows, read_seconds, loop_seconds


def guide_event(table: str, line: dict) -> dict:
    properties = {}
    for key, value in line.items():
        if key in GUIDE_OMITTED or value is None or (not isinstance(value, str) and pd.isna(value)):
            continue
        if key in GUIDE_KEY_MAPPING:
            properties[GUIDE_KEY_MAPPING[key]] = value
        elif key == "platform":
            words = value.split(" ")
            properties["$os"] = words[0]
            properties["$os_version"] = words[1] if len(words) > 1 else None
        else:
            properties[key] = value
    time_value = line["time"]
    return {
        "event": "$pageview" if table == "pageviews" else table,
        "distinct_id": line["user_id"],
        "properties": properties,
        "timestamp": time_value.isoformat() if isinstance(time_value, datetime) else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, action="append", help="Sizes to build (repeatable).")
    parser.add_argument(
        "--baseline-events", type=int, default=1_000_000, help="Size for the pandas loop."
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="dbt threads (DuckDB parallelizes each query)."
    )
    parser.add_argument(
        "--workdir", type=Path, default=None, help="Where the DuckDB files go (default: tmp)."
    )
    parser.add_argument(
        "--duckdb-setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="A DuckDB setting for the build (repeatable), e.g. memory_limit=2GB (default: the profile's, 4GB).",
    )
    parser.add_argument(
        "--kill-at",
        type=float,
        default=None,
        metavar="FRACTION",
        help="Also kill a fresh build at this fraction of the measured build's time, run it again, and "
        "report the work beyond one build.",
    )
    parser.add_argument(
        "--sample-dir",
        type=Path,
        default=None,
        help="Keep each size's generated sample here as heap_<size>.sample.duckdb and reuse it when present "
        "(generation is then not measured again).",
    )
    parser.add_argument(
        "--keep-databases",
        action="store_true",
        help="Keep each size's built DuckDB file in --workdir (e.g. to benchmark the loader on it).",
    )
    args = parser.parse_args()
    sizes = args.events or [1_000_000, 10_000_000]
    settings = dict(setting.split("=", 1) for setting in args.duckdb_setting)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="posthog-migrate-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results = []
    for size in sizes:
        duckdb_path = workdir / f"heap_{size}.duckdb"
        duckdb_path.unlink(missing_ok=True)
        env = {**os.environ, "DUCKDB_PATH": str(duckdb_path), "DBT_PROFILES_DIR": str(workdir)}
        write_profile(workdir / "profiles.yml", settings)
        sample = args.sample_dir / f"heap_{size}.sample.duckdb" if args.sample_dir else None
        generate_seconds, generate_peak = generate_sample(size, duckdb_path, sample, env)
        pristine = sample or workdir / f"heap_{size}.pristine.duckdb"
        if args.kill_at is not None and sample is None:
            shutil.copyfile(duckdb_path, pristine)
        build = [
            str(BIN / "dbt"),
            "build",
            "--threads",
            str(args.threads),
            "--target-path",
            str(workdir / "target"),
        ]
        load_before = load_average()
        build_seconds, peak, code = run_measured(build, env, REPO)
        assert code == 0, f"dbt build failed at {size} events; run it by hand to see why"
        result = {
            "events": size,
            "generate_seconds": None if generate_seconds is None else round(generate_seconds, 1),
            "generate_peak_rss_mb": None if generate_peak is None else round(generate_peak / 2**20),
            "dbt_build_seconds": round(build_seconds, 1),
            "dbt_build_peak_rss_mb": round(peak / 2**20),
            "seconds_per_million_events": round(build_seconds / size * 1e6, 2),
            "load_average_before": load_before,
            "load_average_after": load_average(),
            "cpu_count": os.cpu_count(),
            "duckdb_settings": settings,
        }
        if args.kill_at is not None:
            shutil.copyfile(pristine, duckdb_path)
            if sample is None:
                pristine.unlink()
            load_before = load_average()
            killed_seconds, _, _ = run_measured(
                build, env, REPO, kill_after=args.kill_at * build_seconds
            )
            resumed_seconds, resumed_peak, code = run_measured(build, env, REPO)
            assert code == 0, f"the resumed dbt build failed at {size} events"
            result |= {
                "killed_after_seconds": round(killed_seconds, 1),
                "resumed_build_seconds": round(resumed_seconds, 1),
                "resumed_peak_rss_mb": round(resumed_peak / 2**20),
                "extra_work_percent": round(
                    100 * (killed_seconds + resumed_seconds - build_seconds) / build_seconds, 1
                ),
                "kill_load_average_before": load_before,
                "kill_load_average_after": load_average(),
            }
        if size == args.baseline_events:
            rows, read_seconds, loop_seconds = guide_row_loop(duckdb_path)
            result |= {
                "guide_loop_rows": rows,
                "guide_read_seconds": round(read_seconds, 1),
                "guide_loop_seconds": round(loop_seconds, 1),
                "dbt_build_vs_guide_loop": round(loop_seconds / build_seconds, 1),
            }
        results.append(result)
        print(json.dumps(result), flush=True)
        if not args.keep_databases:
            duckdb_path.unlink()
            shutil.rmtree(duckdb_path.with_name(duckdb_path.name + ".tmp"), ignore_errors=True)
    out = REPO / "bench" / "results" / "dbt_build.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(
        "\n| events | generate | dbt build (models + all tests) | per million events | peak RSS"
        " | guide pandas loop | ratio | load average |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        loop = (
            f"{r['guide_loop_seconds']} s ({r['guide_loop_rows']:,} rows)"
            if "guide_loop_seconds" in r
            else "-"
        )
        ratio = f"{r['dbt_build_vs_guide_loop']}x" if "dbt_build_vs_guide_loop" in r else "-"
        generated = "reused" if r["generate_seconds"] is None else f"{r['generate_seconds']} s"
        print(
            f"| {r['events']:,} | {generated} | {r['dbt_build_seconds']} s "
            f"| {r['seconds_per_million_events']} s | {r['dbt_build_peak_rss_mb']:,} MB | {loop} | {ratio} "
            f"| {r['load_average_before']} → {r['load_average_after']} |"
        )
        if "extra_work_percent" in r:
            print(
                f"|   killed at {r['killed_after_seconds']} s, then again | | "
                f"{r['resumed_build_seconds']} s | | {r['resumed_peak_rss_mb']:,} MB | "
                f"extra work {r['extra_work_percent']}% | | {r['kill_load_average_before']} → "
                f"{r['kill_load_average_after']} |"
            )


if __name__ == "__main__":
    main()
