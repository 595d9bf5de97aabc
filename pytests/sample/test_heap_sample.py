"""The Heap sample generator writes its events a bounded chunk at a time, and the chunks change nothing."""

from __future__ import annotations

from pathlib import Path

import duckdb

from posthog_migrate_sample.heap import EVENT_TABLES, HeapSampleSpec, generate_heap_sample

SPEC = HeapSampleSpec(events=12_000, schema="heap")


def _generate(path: Path, chunk_events: int) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    generate_heap_sample(con, SPEC, chunk_events=chunk_events)
    return con


def _tables(con: duckdb.DuckDBPyConnection, catalog: str) -> list[str]:
    rows = con.execute(
        "select table_name from information_schema.tables"
        " where table_catalog = ? and table_schema = 'heap' order by 1",
        [catalog],
    ).fetchall()
    return [name for (name,) in rows]


def test_chunks_write_the_same_rows_in_the_same_order(tmp_path: Path) -> None:
    _generate(tmp_path / "chunked.duckdb", chunk_events=1_000).close()
    whole = _generate(tmp_path / "whole.duckdb", chunk_events=SPEC.events)
    whole.execute(f"attach '{tmp_path / 'chunked.duckdb'}' as chunked (read_only)")
    tables = _tables(whole, "whole")
    assert tables == _tables(whole, "chunked")
    assert {*EVENT_TABLES, "viewed_pricing_page", "users", "sessions", "all_events"} <= set(tables)
    for table in tables:
        counts = whole.execute(
            f"select (select count(*) from heap.{table}), (select count(*) from chunked.heap.{table})"
        ).fetchone()
        # every row at the same position (rowid: the order it was written in)
        differing = whole.execute(
            f"""select count(*) from (
                select rowid, * from heap.{table} except all select rowid, * from chunked.heap.{table}
            )"""
        ).fetchone()[0]
        assert (counts[0] == counts[1], differing) == (True, 0), table


def test_event_tables_are_in_time_order_with_untimed_rows_last(tmp_path: Path) -> None:
    con = _generate(tmp_path / "sample.duckdb", chunk_events=1_000)
    untimed = 0
    for table in (*EVENT_TABLES, "viewed_pricing_page"):
        out_of_order = con.execute(
            f"""select count(*) from (
                select time, lag(time) over (order by rowid) as previous from heap.{table}
            ) where time < previous or (previous is null and time is not null)"""
        ).fetchone()[0]
        untimed += con.execute(f"select count(*) from heap.{table} where time is null").fetchall()[
            0
        ][0]
        # lag() is null on the first row only, unless an untimed row came before a timed one
        assert out_of_order == 1, table
    assert untimed > 0
