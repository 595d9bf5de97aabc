"""Benchmark `load-posthog export` to a local folder and to a local S3 server, against `load-posthog`
to the capture fake, all on the same rows in the same run.

    .venv/bin/python bench/bench_export.py --events 1000000
    .venv/bin/python bench/bench_export.py --events 10000000 \
        --source-db bench/results/bench_source_10m.duckdb

The S3 server is moto in server mode (`python -m moto.server`) in a process of its own, the capture
fake likewise; each measured command runs in its own process, so CPU and peak RSS are its own
(bench_loader.run_measured). Every export is checked: the manifest counts N events in parts whose
sizes and SHA-256 match the files. `uptime`'s load average is recorded beside every number.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import boto3
import httpx
import orjson

from bench_loader import (
    RESULTS,
    SYNTHETIC_RELATION,
    CaptureProcess,
    build_synthetic,
    measure_loader,
    run_measured,
    write_project,
)

BUCKET = "bench-export"
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "AKIABENCHEXPORT00001",
    "AWS_SECRET_ACCESS_KEY": "bench-secret",
    "AWS_REGION": "us-east-1",
}


@dataclass
class ExportMeasurement:
    name: str
    events: int
    seconds: float
    events_per_second: float
    cpu_seconds: float
    cpu_seconds_per_million: float
    peak_rss_mb: float
    parts: int
    gzip_mb: float
    load_average: str


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


class S3Process:
    """moto's S3 API server on 127.0.0.1, in a process of its own."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(200):
            try:
                httpx.get(self.url, timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        self.client = boto3.client("s3", endpoint_url=self.url, **_client_credentials())
        self.client.create_bucket(Bucket=BUCKET)

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=BUCKET, Key=key)["Body"].read()

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(30)


def _client_credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": S3_ENV["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": S3_ENV["AWS_SECRET_ACCESS_KEY"],
        "region_name": S3_ENV["AWS_REGION"],
    }


def measure_export(
    name: str,
    project: Path,
    to: str,
    events: int,
    *,
    env: dict[str, str],
    read: Callable[[str], bytes],
    extra: list[str],
) -> ExportMeasurement:
    average = load_average()
    command = [
        str(Path(sys.executable).with_name("load-posthog")),
        "export",
        "--project-dir",
        str(project),
        "--models",
        "events",
        "--to",
        to,
        "--reset",
        *extra,
    ]
    run = run_measured(command, env)
    manifest = orjson.loads(read("manifest.json"))
    parts = [part for part in manifest["parts"] if part["key"]]
    # Spot-check the first and last parts byte for byte; the counts cover every part.
    for part in (parts[0], parts[-1]):
        data = read(part["key"])
        assert hashlib.sha256(data).hexdigest() == part["sha256"] and len(data) == part["bytes"]
    if manifest["totals"]["events"] != events:
        raise SystemExit(f"{name}: the manifest counts {manifest['totals']['events']:,} events")
    print(f"{name}: {events:,} events in {run.seconds:.1f}s (load average {average})", flush=True)
    return ExportMeasurement(
        name,
        events,
        run.seconds,
        events / run.seconds,
        run.cpu_seconds,
        run.cpu_seconds / events * 1e6,
        run.peak_rss_mb,
        len(parts),
        manifest["totals"]["bytes"] / 2**20,
        f"{average} → {load_average()}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--source-db", type=Path, default=RESULTS / "bench_source.duckdb")
    parser.add_argument("--skip-capture", action="store_true", help="no capture-lane comparison")
    parser.add_argument(
        "--export-arg",
        action="append",
        default=[],
        help="extra `load-posthog export` argument (repeatable), e.g. --export-arg=--concurrency=3",
    )
    arguments = parser.parse_args()

    RESULTS.mkdir(parents=True, exist_ok=True)
    source = arguments.source_db.resolve()
    build_synthetic(source, SYNTHETIC_RELATION, arguments.events)
    env = {**os.environ}
    env.pop("DBT_PROFILES_DIR", None)
    results: list[ExportMeasurement] = []
    s3 = S3Process()
    try:
        with tempfile.TemporaryDirectory() as scratch:
            project = Path(scratch) / "project"
            project.mkdir()
            write_project(project, source, SYNTHETIC_RELATION)
            folder = Path(scratch) / "export"
            results.append(
                measure_export(
                    "export → folder",
                    project,
                    str(folder),
                    arguments.events,
                    env=env,
                    read=lambda key: (folder / key).read_bytes(),
                    extra=arguments.export_arg,
                )
            )
            results.append(
                measure_export(
                    "export → local S3",
                    project,
                    f"s3://{BUCKET}/run",
                    arguments.events,
                    env={**env, **S3_ENV, "AWS_ENDPOINT_URL": s3.url},
                    read=lambda key: s3.read(f"run/{key}"),
                    extra=arguments.export_arg,
                )
            )
            if not arguments.skip_capture:
                capture = CaptureProcess(2)
                try:
                    average = load_average()
                    loaded = measure_loader(capture, project, arguments.events, [])
                finally:
                    capture.close()
                results.append(
                    ExportMeasurement(
                        "load → capture fake",
                        loaded.events,
                        loaded.seconds,
                        loaded.events_per_second,
                        loaded.cpu_seconds,
                        loaded.cpu_seconds / loaded.events * 1e6,
                        loaded.peak_rss_mb,
                        0,
                        0.0,
                        f"{average} → {load_average()}",
                    )
                )
    finally:
        s3.close()

    header = ("", "events", "seconds", "events/s", "CPU s/M", "peak RSS", "parts", "gz MB", "load")
    print("\n{:20} {:>11} {:>8} {:>10} {:>8} {:>9} {:>6} {:>7}  {}".format(*header))
    for result in results:
        print(
            f"{result.name:20} {result.events:>11,} {result.seconds:>8.1f} "
            f"{result.events_per_second:>10,.0f} {result.cpu_seconds_per_million:>8.1f} "
            f"{result.peak_rss_mb:>6.0f} MB {result.parts:>6,} {result.gzip_mb:>7.1f}  "
            f"{result.load_average}"
        )
    if len(results) == 3:
        folder_run, s3_run, capture_run = results
        print(
            f"\nexport → folder / load → capture: "
            f"{folder_run.events_per_second / capture_run.events_per_second:.1f}x events/s; "
            f"export → S3 / load → capture: "
            f"{s3_run.events_per_second / capture_run.events_per_second:.1f}x"
        )
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"bench_export_{arguments.events}_{stamp}.json").write_bytes(
        orjson.dumps([asdict(result) for result in results], option=orjson.OPT_INDENT_2)
    )


if __name__ == "__main__":
    main()
