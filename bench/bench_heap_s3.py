"""Benchmark the Heap Connect S3 route against the warehouse route on the same rows.

For each size: generate a Heap Connect schema into a DuckDB file, write it out as Heap Connect S3 dumps (Snappy Avro
plus manifests; two dumps, the second incremental), then run the real `dbt build` twice: the warehouse route on the
DuckDB schema, and the S3 route (`heap_s3_path`) on the dumps in a fresh DuckDB file. Wall time and the peak
resident memory of each dbt process tree are recorded, with the load average beside them (the machine is shared).

    .venv/bin/python bench/bench_heap_s3.py --events 1000000 --events 10000000

Results are printed as JSON lines and written to bench/results/heap_s3.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import duckdb

from bench_dbt_build import BIN, HEAP, REPO, generate_sample, run_measured, write_profile

sys.path.insert(0, str(REPO / "pytests"))
from support.heap_s3_dumps import TableDump, write_dump


def write_dumps(duckdb_path: Path, bucket: Path) -> None:
    """Two dumps: rows before the median pageview time, then the rest (incremental)."""
    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        timed = dict(
            con.execute(
                "select table_name, bool_or(column_name = 'time') from information_schema.columns "
                "where table_schema = ? and table_name not in ('all_events', '_sync_info') "
                "group by table_name order by table_name",
                [HEAP],
            ).fetchall()
        )
        cutoff = con.execute(f"select median(time) from {HEAP}.pageviews").fetchone()[0]
        for dump_id, where in (
            (1, f"time < '{cutoff}' or time is null"),
            (2, f"time >= '{cutoff}'"),
        ):
            dumps = []
            for name, has_time in timed.items():
                # users and Heap's bookkeeping have no event time: one full copy, in the first dump
                if not has_time and dump_id == 2:
                    continue
                query = f'select * from {HEAP}."{name}"' + (f" where {where}" if has_time else "")
                dumps.append(TableDump(name, query, incremental=dump_id == 2, files=4))
            write_dump(con, bucket, dump_id, dumps)


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, action="append", help="Sizes (repeatable).")
    parser.add_argument("--workdir", type=Path, default=None, help="Where files go (default: tmp).")
    parser.add_argument(
        "--sample-dir",
        type=Path,
        default=None,
        help="Reuse (or keep) each size's Heap sample here, as bench_dbt_build.py --sample-dir does.",
    )
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="posthog-migrate-bench-s3-"))
    workdir.mkdir(parents=True, exist_ok=True)
    write_profile(workdir / "profiles.yml", {})
    results = []
    for size in args.events or [1_000_000, 10_000_000]:
        source = workdir / f"heap_{size}.duckdb"
        routed = workdir / f"heap_s3_{size}.duckdb"
        bucket = workdir / f"bucket_{size}"
        for path in (source, routed):
            path.unlink(missing_ok=True)
        env = {**os.environ, "DBT_PROFILES_DIR": str(workdir)}
        sample = args.sample_dir / f"heap_{size}.sample.duckdb" if args.sample_dir else None
        generate_sample(size, source, sample, env)
        write_dumps(source, bucket)
        build = [str(BIN / "dbt"), "build", "--target-path", str(workdir / "target")]
        result: dict = {"events": size, "cpu_count": os.cpu_count()}
        for route, duckdb_path, extra in (
            ("warehouse", source, []),
            ("s3", routed, ["--vars", json.dumps({"heap_s3_path": str(bucket)})]),
        ):
            before = load_average()
            seconds, peak, code = run_measured(
                [*build, *extra], {**env, "DUCKDB_PATH": str(duckdb_path)}, REPO
            )
            assert code == 0, f"{route} route failed at {size} events; run it by hand to see why"
            result |= {
                f"{route}_seconds": round(seconds, 1),
                f"{route}_peak_rss_mb": round(peak / 2**20),
                f"{route}_load_average_before": before,
                f"{route}_load_average_after": load_average(),
            }
        result["s3_vs_warehouse"] = round(result["s3_seconds"] / result["warehouse_seconds"], 2)
        results.append(result)
        print(json.dumps(result), flush=True)
    out = REPO / "bench" / "results" / "heap_s3.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
