"""Pure pieces: window packing, batching and validation, prefix acknowledgement, retry timing."""

from __future__ import annotations

import datetime as dt
from collections import deque
from pathlib import Path

import orjson
import pyarrow as pa
import pytest

from loader.conftest import OLD, Row, make_uuid, payload_for, rows_for
from posthog_loader.batching import Batcher, BatchLimits
from posthog_loader.capture_body import BodyLayout, body_header, build_body, render_body
from posthog_loader.checkpoint import PrefixTracker
from posthog_loader.config import ApiKey, parse_models, read_api_key
from posthog_loader.errors import ConfigError
from posthog_loader.read import ROW_COLUMNS, Bucket, Position, normalize, take_window
from posthog_loader.rows import Reason, json_lines
from posthog_loader.sharding import Shard
from posthog_loader.state import Checkpoint, FileStateStore, StateUpdate

HOUR = dt.timedelta(hours=1)


def _record_batch(rows: list[Row]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist(
        [vars(row) for row in rows],
        schema=pa.schema(
            [
                ("uuid", pa.string()),
                ("event", pa.string()),
                ("distinct_id", pa.string()),
                ("timestamp", pa.timestamp("us")),
                ("payload", pa.string()),
            ]
        ),
    )


def _split(rows: list[Row], *sizes: int) -> list[pa.RecordBatch]:
    batches, start = [], 0
    for size in sizes:
        batches.append(_record_batch(rows[start : start + size]))
        start += size
    return batches


def test_windows_take_whole_buckets_up_to_the_budget():
    counts = [40, 30, 50, 200, 10, 10]
    buckets = deque(
        Bucket(OLD + i * HOUR, OLD + (i + 1) * HOUR, n, 0) for i, n in enumerate(counts)
    )

    windows = []
    while buckets:
        windows.append([bucket.rows for bucket in take_window(buckets, budget=100)])

    # A bucket over budget still makes a window of its own (the reader refines it first).
    assert windows == [[40, 30], [50], [200], [10, 10]]


def test_batches_respect_the_event_limit_across_arrow_batches():
    rows = rows_for("events", 230, step=dt.timedelta(minutes=1))

    batches = list(Batcher(BatchLimits(100, 10**7), None).batches(_split(rows, 64, 64, 64, 38)))

    assert [batch.rows.num_rows for batch in batches] == [100, 100, 30]
    assert [batch.seq for batch in batches] == [0, 1, 2]
    sent = [uuid for batch in batches for uuid in batch.rows.column("uuid").to_pylist()]
    assert sent == [row.uuid for row in rows]
    assert [batch.end.uuid for batch in batches] == [rows[99].uuid, rows[199].uuid, rows[229].uuid]


def test_batches_respect_the_byte_limit_including_the_envelope():
    rows = rows_for("events", 50)
    limit = 4096

    batches = list(Batcher(BatchLimits(1000, limit), None).batches(_split(rows, 50)))

    assert len(batches) > 1
    for batch in batches:
        header = body_header(orjson.dumps("phc_" + "x" * 60), historical=True)
        body = render_body(batch.rows.column("payload"), header)
        assert len(body) <= limit
    assert sum(batch.rows.num_rows for batch in batches) == 50


def test_an_event_larger_than_the_byte_limit_travels_alone():
    rows = rows_for("events", 3)
    for row in rows:
        row.payload = payload_for(
            row.uuid, row.event, row.distinct_id, row.timestamp, blob="x" * 900
        )

    batches = list(Batcher(BatchLimits(1000, 1024), None).batches(_split(rows, 3)))

    assert [batch.rows.num_rows for batch in batches] == [1, 1, 1]


def test_invalid_rows_are_quarantined_in_place_and_still_move_the_position():
    rows = rows_for("events", 6)
    rows[2].event = ""
    rows[5].uuid = "nope"

    batches = list(Batcher(BatchLimits(2, 10**7), None).batches(_split(rows, 6)))

    assert [batch.rows.column("uuid").to_pylist() for batch in batches] == [
        [rows[0].uuid, rows[1].uuid],
        [rows[3].uuid, rows[4].uuid],
    ]
    # Each invalid row rides along with the batch it sits in, so the checkpoint passes it only
    # once its quarantine record is saved.
    assert [[row.reason for row in batch.quarantined] for batch in batches] == [
        [Reason.EMPTY_EVENT],
        [Reason.INVALID_UUID],
    ]
    assert batches[0].end == Position(rows[2].timestamp, rows[2].uuid)
    assert batches[-1].end == Position(rows[5].timestamp, "nope")
    assert sum(batch.rows_read for batch in batches) == 6


def test_a_row_failing_several_checks_reports_the_most_fundamental():
    rows = rows_for("events", 1)
    rows[0].payload, rows[0].uuid, rows[0].event = None, "bad", ""

    (batch,) = Batcher(BatchLimits(10, 10**7), None).batches(_split(rows, 1))

    assert [row.reason for row in batch.quarantined] == [Reason.INVALID_PAYLOAD]
    assert batch.rows.num_rows == 0


def test_the_body_check_quarantines_payloads_that_are_not_exactly_one_object():
    rows = rows_for("events", 6)
    smuggled = payload_for(make_uuid("events", 99), "extra", "u", OLD)
    rows[1].payload = "{not json"
    rows[2].payload = rows[2].payload[:-1] + ', "n": NaN}'
    rows[3].payload = rows[3].payload + "," + smuggled
    rows[4].payload = "[1, 2]"
    table = pa.Table.from_batches(_split(rows, 6))

    checked = build_body(table, body_header(b'"phc_x"', historical=True))

    assert checked.rows.column("uuid").to_pylist() == [rows[0].uuid, rows[5].uuid]
    assert [row.uuid for row in checked.quarantined] == [rows[index].uuid for index in (1, 2, 3, 4)]
    assert {row.reason for row in checked.quarantined} == {Reason.INVALID_PAYLOAD}
    assert all(
        row.detail.startswith("payload is not one JSON object: ") for row in checked.quarantined
    )
    assert checked.body is not None
    assert [event["uuid"] for event in orjson.loads(checked.body)["batch"]] == [
        rows[0].uuid,
        rows[5].uuid,
    ]


def test_a_body_is_cut_into_parts_without_the_rows():
    rows = pa.Table.from_batches(_split(rows_for("events", 5), 5))
    header = body_header(b'"phc_x"', historical=False)
    body = render_body(rows.column("payload"), header)
    layout = BodyLayout.of(rows.column("payload"), header)

    part, part_layout = layout.cut(body, 1, 4)

    assert part == render_body(rows.column("payload").slice(1, 3), header)
    assert part_layout.payload(part, 2) == rows.column("payload")[3].as_py()
    assert layout.payload(body, 4) == rows.column("payload")[4].as_py()


def test_no_batch_spans_two_utc_days_and_days_come_oldest_first():
    start = dt.datetime(2024, 3, 1, 22, 0)
    rows = rows_for("events", 30, start=start, step=dt.timedelta(minutes=10))

    batches = list(Batcher(BatchLimits(100, 10**7), None).batches(_split(rows, 7, 16, 7)))

    days = [{ts.date() for ts in batch.rows.column("timestamp").to_pylist()} for batch in batches]
    # 22:00 to 02:50 the next night: one batch per day although every one fits the limits.
    assert days == [{dt.date(2024, 3, 1)}, {dt.date(2024, 3, 2)}]
    assert [batch.day for batch in batches] == [dt.date(2024, 3, 1), dt.date(2024, 3, 2)]
    assert [batch.rows.num_rows for batch in batches] == [12, 18]


def test_a_uuid_repeated_within_a_batch_is_quarantined_after_its_first_row():
    rows = rows_for("events", 8, step=dt.timedelta(minutes=1))
    twin = Row(rows[1].uuid, "other", "u9", rows[5].timestamp, rows[1].payload)
    rows[5] = twin

    (batch,) = Batcher(BatchLimits(100, 10**7), None).batches(_split(rows, 3, 5))

    assert batch.rows.column("uuid").to_pylist() == [
        row.uuid for index, row in enumerate(rows) if index != 5
    ]
    assert [(row.reason, row.event) for row in batch.quarantined] == [
        (Reason.DUPLICATE_UUID, "other")
    ]
    assert batch.rows_read == 8


def test_live_lane_starts_a_new_batch_at_the_cutoff():
    rows = rows_for("events", 10, step=HOUR)
    cutoff = rows[6].timestamp

    batches = list(Batcher(BatchLimits(4, 10**7), cutoff).batches(_split(rows, 5, 5)))

    assert [(batch.historical, batch.rows.num_rows) for batch in batches] == [
        (True, 4),
        (True, 2),
        (False, 4),
    ]


def test_normalize_renames_upper_case_columns_and_floors_nanoseconds():
    batch = pa.RecordBatch.from_arrays(
        [
            pa.array(["u"], pa.large_string()),
            pa.array(["e"]),
            pa.array(["d"]),
            pa.array([1_700_000_000_123_456_789], pa.timestamp("ns", tz="UTC")),
            pa.array(["{}"]),
        ],
        names=[name.upper() for name in ROW_COLUMNS],
    )

    normalized = normalize(batch)

    assert normalized.schema.names == list(ROW_COLUMNS)
    assert normalized.column("uuid").type == pa.string()
    assert normalized.column("timestamp").type == pa.timestamp("us")
    assert normalized.column("timestamp")[0].as_py() == dt.datetime(
        2023, 11, 14, 22, 13, 20, 123456
    )


def test_normalize_gives_the_key_columns_buffers_of_their_own():
    """A part's keys are held until it is recorded; they must not pin the driver's batch (and so
    its payloads, the bulk of it) in memory."""
    columns = [
        pa.array(["u1", "u2"]),
        pa.array(["e", "e"]),
        pa.array(["d", "d"]),
        pa.array([1, 2], pa.timestamp("us")),
        pa.array(["{}", "{}"]),
    ]
    batch = pa.RecordBatch.from_arrays(columns, names=list(ROW_COLUMNS))

    normalized = normalize(batch)

    driver_buffers = {buffer.address for column in columns for buffer in column.buffers() if buffer}
    for name in ("uuid", "event", "distinct_id", "timestamp"):
        column = normalized.column(name)
        assert not {buffer.address for buffer in column.buffers() if buffer} & driver_buffers
    assert normalized.column("uuid").to_pylist() == ["u1", "u2"]
    assert normalized.column("timestamp").to_pylist() == batch.column("timestamp").to_pylist()


def test_json_lines_joins_every_chunk_and_slice_exactly_once():
    payloads = [orjson.dumps({"uuid": str(i), "properties": {"é": "ü" * i}}) for i in range(9)]
    whole = pa.array(payloads, pa.binary())
    # Chunks as a batch's slices arrive: one empty, some starting at an offset into their buffers.
    chunked = pa.chunked_array(
        [whole.slice(0, 2), whole.slice(2, 0), whole.slice(2, 4), whole.slice(6, 3)]
    )

    assert json_lines(chunked) == b"".join(payload + b"\n" for payload in payloads)
    assert json_lines(pa.chunked_array([], pa.binary())) == b""


@pytest.mark.parametrize(
    "bad",
    [b'{"a": 1},{"b": 2}', b'{"a":\n1}', b"[1]", b'{"n": 1e999}', None],
    ids=["two objects", "line break", "not an object", "huge number", "missing"],
)
def test_json_lines_refuses_a_part_holding_any_payload_that_is_not_one_object_on_one_line(
    bad: bytes | None,
):
    chunked = pa.chunked_array([pa.array([b'{"a": 1}', bad, b'{"c": 3}'], pa.binary())])

    assert json_lines(chunked) is None


def test_prefix_tracker_releases_only_consecutive_acknowledgements():
    tracker: PrefixTracker[str] = PrefixTracker()

    assert tracker.complete(1, "b") == []
    assert tracker.complete(2, "c") == []
    assert tracker.complete(0, "a") == ["a", "b", "c"]
    assert tracker.complete(4, "e") == []
    assert tracker.complete(3, "d") == ["d", "e"]


def test_file_state_store_round_trip_and_reset(tmp_path: Path):
    path = tmp_path / "state.json"
    store = FileStateStore(path)
    position = Position(OLD, "0000")
    store.save("events", "all", StateUpdate(Checkpoint(position, 10, 0)))
    store.save("persons", "all", StateUpdate(Checkpoint(position, 5, 0)))

    reopened = FileStateStore(path)
    assert reopened.load("events", "all") == Checkpoint(position, 10, 0)
    reopened.reset(["events"], Shard())
    assert FileStateStore(path).load("events", "all") == Checkpoint()
    assert FileStateStore(path).load("persons", "all") == Checkpoint(position, 5, 0)


def test_a_corrupt_state_file_is_a_config_error(tmp_path: Path):
    path = tmp_path / "state.json"
    path.write_text("{")

    with pytest.raises(ConfigError, match="--state-file"):
        FileStateStore(path)


def test_api_key_never_shows_in_str_or_repr():
    key = read_api_key({"POSTHOG_API_KEY": " phc_abc \n"}, required=True)

    assert isinstance(key, ApiKey)
    assert key.reveal() == "phc_abc"
    assert "phc_abc" not in str(key) + repr(key)


def test_models_are_always_in_canonical_order():
    assert parse_models("events, aliases") == ("aliases", "events")
    assert parse_models("persons,persons") == ("persons",)
    with pytest.raises(ConfigError, match="--models"):
        parse_models(",")
