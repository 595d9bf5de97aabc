"""How fast the loader's Redshift connector reads rows (server-side cursor, FETCH, rows to Arrow), against the
same rows read through its DuckDB connector in the same run.

The Redshift side is the PostgreSQL stand-in of the tests (pytests/support/redshift_stand_in_server.py) on this
machine: it measures the client's share (the wire protocol, redshift_connector's row decoding, Arrow), which is
what a real cluster cannot make faster; a cluster's leader node adds its own time on top.

    .venv/bin/python bench/bench_redshift_read.py --rows 200000
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import redshift_connector

from posthog_loader.dbt import Target
from posthog_loader.warehouse.duckdb import DuckDBWarehouse
from posthog_loader.warehouse.redshift import RedshiftWarehouse

ROOT = Path(__file__).resolve().parents[1]
LAUNCHER = ROOT / "pytests" / "support" / "redshift_stand_in_server.py"
PASSWORD = "bench-password"
BATCH_ROWS = 2048
# A payload like a Heap pageview's (about 700 bytes): same text on both sides.
ROWS_SQL = """
select
    md5(cast(n as varchar)) as uuid,
    'pageview_' || (n % 7) as event,
    'user_' || (n % 5000) as distinct_id,
    cast('2024-05-01' as timestamp) + n * interval '1 second' as timestamp,
    '{"uuid":"' || md5(cast(n as varchar)) || '","event":"$pageview","properties":{"$current_url":'
        || '"https://www.northwind.io/pricing?plan=pro&utm_source=google&utm_medium=cpc&utm_campaign=summer",'
        || '"$session_id":"0190ac3a-1270-7cbc-bb20-9a3b29468761","$geoip_disable":true,'
        || '"$browser":"Chrome","$os":"Mac OS X","$os_version":"10.15.7","$device_type":"Desktop",'
        || '"$referrer":"https://www.google.com/","title":"Pricing - Northwind","n":' || n || ','
        || '"$heap_event_id":"' || (1000000000000000 + n) || '","$heap_user_id":"1000000074139649",'
        || '"padding":"' || repeat('x', 200) || '"}}' as payload
from generate_series(1, {rows}) as numbers(n)
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _timed_read(warehouse: object, sql: str) -> tuple[int, float]:
    started = time.perf_counter()
    rows = sum(batch.num_rows for batch in warehouse.stream(sql, {}, BATCH_ROWS))  # type: ignore[attr-defined]
    return rows, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-redshift-"))
    port = _free_port()
    command = [
        sys.executable, str(LAUNCHER), "--port", str(port), "--postgres-port", str(_free_port()),
        "--data-dir", str(base / "data"), "--password", PASSWORD, "--database", "dev",
    ]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                connection = redshift_connector.connect(
                    host="127.0.0.1", port=port, database="dev", user="redshift_admin",
                    password=PASSWORD, ssl=False,
                )  # fmt: skip
                break
            except (redshift_connector.InterfaceError, OSError):
                time.sleep(0.1)
        cursor = connection.cursor()
        cursor.execute("create table bench_rows as " + ROWS_SQL.replace("{rows}", str(args.rows)))
        connection.commit()
        connection.close()
        settings = {
            "type": "redshift", "host": "127.0.0.1", "port": port, "user": "redshift_admin",
            "password": PASSWORD, "dbname": "dev", "schema": "public", "sslmode": "disable",
        }  # fmt: skip
        redshift = RedshiftWarehouse(Target("bench", "redshift", "redshift", settings))
        duckdb_path = base / "bench.duckdb"
        with duckdb.connect(str(duckdb_path)) as con:
            con.execute("create table bench_rows as " + ROWS_SQL.replace("{rows}", str(args.rows)))
        duck = DuckDBWarehouse(
            Target("bench", "duckdb", "duckdb", {"type": "duckdb", "path": str(duckdb_path)}),
            read_only=True,
            memory_limit="1GB",
        )
        query = "select uuid, event, distinct_id, timestamp, payload from bench_rows"
        print(f"load average before: {os.getloadavg()[0]:.2f}")
        for name, warehouse in (("duckdb", duck), ("redshift stand-in", redshift)):
            rows, seconds = _timed_read(warehouse, query)
            print(f"{name}: {rows:,} rows in {seconds:.2f} s = {rows / seconds:,.0f} rows/s")
            warehouse.close()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"peak RSS of this process: {peak:.0f} MB; load average after: {os.getloadavg()[0]:.2f}"
        )
    finally:
        server.terminate()
        server.wait(60)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
