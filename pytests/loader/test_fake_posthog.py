"""The fake PostHog enforces PostHog's capture contract, so loader tests mean something."""

from __future__ import annotations

import datetime as dt
import gzip
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from support.fake_posthog import BATCH_BODY_LIMIT, CaptureServer, Fault, FaultPlan

TOKEN = "phc_contract"
UUID = "0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b"
PYTESTS = Path(__file__).parents[1]


def _event(**overrides: object) -> dict[str, object]:
    return {
        "uuid": UUID,
        "event": "signed_up",
        "distinct_id": "user-1",
        "timestamp": "2024-03-01T10:00:00+00:00",
        "properties": {"plan": "pro"},
        **overrides,
    }


@pytest.fixture
def server() -> Iterator[CaptureServer]:
    with CaptureServer([TOKEN]) as running:
        yield running


@pytest.fixture
def client(server: CaptureServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as http:
        yield http


def _post(
    client: httpx.Client, body: object, path: str = "/batch/", **kwargs: object
) -> httpx.Response:
    return client.post(path, content=orjson.dumps(body), **kwargs)


@pytest.mark.parametrize("path", ["/batch", "/batch/"])
@pytest.mark.parametrize("key", ["api_key", "token"])
def test_batch_shape_on_both_routes(
    server: CaptureServer, client: httpx.Client, path: str, key: str
):
    response = _post(client, {key: TOKEN, "historical_migration": True, "batch": [_event()]}, path)

    assert response.status_code == 200
    assert response.json() == {"status": "Ok"}
    (event,) = server.events
    assert (event.uuid, event.event, event.distinct_id, event.historical_migration) == (
        UUID,
        "signed_up",
        "user-1",
        True,
    )


def test_array_and_single_event_shapes_are_never_historical(
    server: CaptureServer, client: httpx.Client
):
    assert _post(client, [_event(api_key=TOKEN)]).status_code == 200
    assert _post(client, _event(token=TOKEN)).status_code == 200

    assert [event.historical_migration for event in server.events] == [False, False]


def test_sent_at_is_recorded(server: CaptureServer, client: httpx.Client):
    body = {"api_key": TOKEN, "sent_at": "2024-03-01T10:00:05+00:00", "batch": [_event()]}

    assert _post(client, body).status_code == 200
    assert server.events[0].sent_at == "2024-03-01T10:00:05+00:00"
    assert server.requests[0].has_sent_at


@pytest.mark.parametrize(
    ("token", "status"),
    [(None, 401), ("", 401), ("phx_personal", 401), ("phc_other_project", 403)],
)
def test_token_checks(server: CaptureServer, client: httpx.Client, token: str | None, status: int):
    body: dict[str, object] = {"batch": [_event()]}
    if token is not None:
        body["api_key"] = token

    assert _post(client, body).status_code == status
    assert server.events == []


def test_gzip_is_detected_by_magic_bytes_whatever_the_headers(
    server: CaptureServer, client: httpx.Client
):
    body = orjson.dumps({"api_key": TOKEN, "batch": [_event()]})

    assert client.post("/batch/", content=gzip.compress(body)).status_code == 200
    lying = client.post("/batch/", content=body, headers={"Content-Encoding": "gzip"})
    assert lying.status_code == 200
    assert [request.compressed for request in server.requests] == [True, False]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (_event(event=""), "missing event name"),
        (_event(distinct_id=""), "missing distinct_id"),
        (_event(distinct_id=None), "missing distinct_id"),
        ({k: v for k, v in _event().items() if k != "distinct_id"}, "missing distinct_id"),
        (_event(uuid="not-a-uuid"), "invalid uuid"),
        (_event(event=None), "missing field `event`"),
    ],
)
def test_one_invalid_event_rejects_the_whole_request(
    server: CaptureServer, client: httpx.Client, bad: dict[str, object], message: str
):
    response = _post(
        client, {"api_key": TOKEN, "batch": [_event(uuid=None), bad, _event(uuid=None)]}
    )

    assert response.status_code == 400
    assert message in response.json()["error"]
    assert server.events == []


def test_distinct_id_falls_back_to_properties_and_is_cut_at_200(
    server: CaptureServer, client: httpx.Client
):
    without = {k: v for k, v in _event().items() if k != "distinct_id"}
    without["properties"] = {"distinct_id": "from-properties"}
    batch = [without, _event(distinct_id="x" * 250), _event(distinct_id=42)]

    assert _post(client, {"api_key": TOKEN, "batch": batch}).status_code == 200
    assert [event.distinct_id for event in server.events] == ["from-properties", "x" * 200, "42"]


def test_undecodable_json_and_empty_batches_are_400(server: CaptureServer, client: httpx.Client):
    assert (
        client.post("/batch/", content=b'{"api_key": "phc_contract", "batch": [').status_code == 400
    )
    assert _post(client, {"api_key": TOKEN, "batch": []}).status_code == 400


def test_size_limits_answer_413(server: CaptureServer, client: httpx.Client):
    huge_event = _event(properties={"blob": "x" * 1_000_001})
    assert _post(client, {"api_key": TOKEN, "batch": [huge_event]}).status_code == 413
    oversized_body = b" " * (BATCH_BODY_LIMIT + 1)
    assert client.post("/batch/", content=oversized_body).status_code == 413
    assert server.events == []


def test_dedup_view_uses_posthogs_key(server: CaptureServer, client: httpx.Client):
    batch = [
        _event(),
        _event(),  # exact resend: collapses
        _event(timestamp="2024-03-02T10:00:00+00:00"),  # another day: a new row
        _event(distinct_id="user-2"),  # another person: a new row
    ]

    assert _post(client, {"api_key": TOKEN, "batch": batch}).status_code == 200
    assert len(server.events) == 4
    assert len(server.deduplicated()) == 3


def test_sent_at_skew_moves_the_stored_day(server: CaptureServer, client: httpx.Client):
    now = dt.datetime.now(dt.UTC)
    body = {
        "api_key": TOKEN,
        "sent_at": (now - dt.timedelta(days=3)).isoformat(),
        "batch": [_event(timestamp=(now - dt.timedelta(days=3)).isoformat())],
    }

    assert _post(client, body).status_code == 200
    ((_, _, day, _),) = server.deduplicated()
    # capture computes now + (timestamp - sent_at): the event lands today, not 3 days ago.
    assert day == now.date()


def test_programmed_faults(server: CaptureServer, client: httpx.Client):
    server.inject(Fault.respond(429, retry_after=7), Fault.respond(503), Fault.dropped())
    body = {"api_key": TOKEN, "batch": [_event()]}

    limited = _post(client, body)
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "7")
    assert _post(client, body).status_code == 503
    with pytest.raises(httpx.RemoteProtocolError):
        _post(client, body)
    assert _post(client, body).status_code == 200
    assert [request.status for request in server.requests] == [429, 503, 0, 200]
    assert len(server.events) == 1


def test_connection_resets_before_or_after_the_events_are_stored(
    server: CaptureServer, client: httpx.Client
):
    server.inject(Fault.connection_reset(), Fault.connection_reset(after_store=True))
    body = {"api_key": TOKEN, "batch": [_event()]}

    for _ in range(2):
        with pytest.raises(httpx.TransportError):
            _post(client, body)

    # The second reset came after capture kept the event: the client cannot know it arrived.
    assert len(server.events) == 1
    assert [request.fault for request in server.requests] == ["reset", "reset_after_store"]


@pytest.mark.parametrize("kind", ["bad_gzip", "not_json"])
def test_unreadable_success_answers(server: CaptureServer, client: httpx.Client, kind: str):
    server.inject(Fault.unreadable_success(kind))  # type: ignore[arg-type]
    body = {"api_key": TOKEN, "batch": [_event()]}

    with client.stream("POST", "/batch/", content=orjson.dumps(body)) as response:
        assert response.status_code == 200
        with pytest.raises((httpx.DecodingError, ValueError)):
            orjson.loads(response.read())
    assert len(server.events) == 1


def test_an_echoing_error_answer_quotes_the_request_token(
    server: CaptureServer, client: httpx.Client
):
    server.inject(Fault.echoing(400))
    body = gzip.compress(orjson.dumps({"api_key": TOKEN, "batch": [_event()]}))

    response = client.post("/batch/", content=body)

    assert response.status_code == 400
    assert TOKEN in response.text
    assert server.events == []


def test_a_fault_plan_draws_the_same_faults_for_the_same_seed():
    plan = FaultPlan([(0.10, Fault.respond(503)), (0.05, Fault.respond(429))], seed=7)

    drawn = [plan(index) for index in range(2000)]

    assert drawn == [FaultPlan(plan.odds, seed=7)(index) for index in range(2000)]
    assert drawn != [FaultPlan(plan.odds, seed=8)(index) for index in range(2000)]
    assert 150 < drawn.count(Fault.respond(503)) < 250
    assert 60 < drawn.count(Fault.respond(429)) < 140


@pytest.mark.parametrize("number", ["1e999", "-1E+400", "1" + "0" * 309])
def test_numbers_out_of_range_are_refused_like_serde_json(
    server: CaptureServer, client: httpx.Client, number: str
):
    body = (
        b'{"api_key":"' + TOKEN.encode() + b'","batch":[{"uuid":"' + UUID.encode() + b'",'
        b'"event":"e","distinct_id":"u","properties":{"x":' + number.encode() + b"}}]}"
    )

    response = client.post("/batch/", content=body)

    assert response.status_code == 400
    assert server.events == []


def test_small_and_tiny_numbers_are_accepted(server: CaptureServer, client: httpx.Client):
    body = orjson.dumps({"api_key": TOKEN, "batch": [_event(properties={"a": 1e308, "b": 1e-300})]})

    assert client.post("/batch/", content=body).status_code == 200
    # An integer past u64 is read as a float by serde_json: still in range.
    assert (
        client.post("/batch/", content=body.replace(b"1e308", b"1" + b"0" * 30)).status_code == 200
    )


def test_slow_fault_delays_the_answer(server: CaptureServer, client: httpx.Client):
    server.inject(Fault.slow(0.3))

    with pytest.raises(httpx.ReadTimeout):
        _post(client, {"api_key": TOKEN, "batch": [_event()]}, timeout=0.1)


def test_standalone_process_with_admin_endpoints():
    process = subprocess.Popen(
        [sys.executable, "-m", "support.fake_posthog", "--port", "0", "--token", TOKEN],
        stdout=subprocess.PIPE,
        text=True,
        cwd=PYTESTS,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip().removeprefix("listening on ")
        with httpx.Client(base_url=url, timeout=10) as client:
            faults = {"faults": [{"status": 503}], "times": 2}
            assert client.post("/_admin/faults", content=orjson.dumps(faults)).status_code == 200
            statuses = [
                _post(client, {"api_key": TOKEN, "batch": [_event()]}).status_code for _ in range(3)
            ]
            always = {"always": {"hangup": "reset"}}
            assert client.post("/_admin/faults", content=orjson.dumps(always)).status_code == 200
            with pytest.raises(httpx.TransportError):
                _post(client, {"api_key": TOKEN, "batch": [_event()]})
            assert client.post("/_admin/faults", json={"always": None}).status_code == 200
            stats = client.get("/_admin/stats").json()
    finally:
        process.terminate()
        process.wait(10)

    assert statuses == [503, 503, 200]
    assert stats["events"] == 1
    assert stats["unique_uuids"] == 1
    assert stats["faults"] == {"status_503": 2, "reset": 1}
    assert process.returncode == 0


# -- PostHog's query API, as verify uses it --------------------------------------------------

_DAY = dt.date(2024, 3, 1)


def _count_query(events: list[str], *, days: int = 2, offset: int = 0, limit: int = 100) -> dict:
    from posthog_loader.verify.counts import count_query

    text = count_query(
        _DAY, _DAY + dt.timedelta(days=days), events, None, offset=offset, limit=limit
    )
    return {"query": {"kind": "HogQLQuery", "query": text}}


def _query(
    client: httpx.Client, body: object, key: str | None = "phx_test", project: str = "1"
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return client.post(f"/api/projects/{project}/query/", json=body, headers=headers)


def test_query_api_counts_per_day_and_event_like_posthogs_table(
    server: CaptureServer, client: httpx.Client
):
    batch = [
        _event(),
        _event(),  # a re-send: stored twice, kept once
        _event(uuid="0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5c", distinct_id="user-2"),
        _event(uuid="0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5d", timestamp="2024-03-02T23:59:59Z"),
        _event(uuid="0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5e", event="it's \\ odd"),
        _event(uuid="0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5f", timestamp="2024-03-03T00:00:00Z"),
    ]
    assert _post(client, {"api_key": TOKEN, "batch": batch}).status_code == 200

    answer = _query(client, _count_query(["signed_up", "it's \\ odd"]))

    assert answer.status_code == 200
    body = answer.json()
    assert body["columns"] == ["day", "event", "stored", "kept"]
    day = (_DAY - dt.date(1970, 1, 1)).days
    assert body["results"] == [
        [day, "it's \\ odd", 1, 1],
        [day, "signed_up", 3, 2],
        [day + 1, "signed_up", 1, 1],  # the next day's event falls outside the range
    ]
    assert body["hasMore"] is False


def test_query_api_pages(server: CaptureServer, client: httpx.Client):
    batch = [
        _event(uuid=f"0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a{index:02d}", event=f"e{index}")
        for index in range(5)
    ]
    assert _post(client, {"api_key": TOKEN, "batch": batch}).status_code == 200
    names = [f"e{index}" for index in range(5)]

    first = _query(client, _count_query(names, limit=2)).json()
    last = _query(client, _count_query(names, limit=2, offset=4)).json()

    assert [row[1] for row in first["results"]] == ["e0", "e1"] and first["hasMore"] is True
    assert [row[1] for row in last["results"]] == ["e4"] and last["hasMore"] is False


@pytest.mark.parametrize(
    ("call", "status", "code"),
    [
        ((None, "1", _count_query(["a"])), 401, "not_authenticated"),
        (("phx_other", "1", _count_query(["a"])), 401, "authentication_failed"),
        ((TOKEN, "1", _count_query(["a"])), 401, "authentication_failed"),  # a project key
        (("phx_test", "2", _count_query(["a"])), 404, "not_found"),
        (("phx_test", "1", {"query": {"kind": "EventsQuery"}}), 400, "invalid_input"),
        (
            ("phx_test", "1", {"query": {"kind": "HogQLQuery", "query": "SELECT 1"}}),
            400,
            "query_error",
        ),
    ],
)
def test_query_api_checks_like_posthog(
    client: httpx.Client, call: tuple[str | None, str, dict], status: int, code: str
):
    key, project, body = call
    answer = _query(client, body, key, project)

    assert answer.status_code == status
    assert answer.json()["code"] == code


def test_over_quota_requests_get_200_and_lose_a_steady_fraction(
    server: CaptureServer, client: httpx.Client
):
    server.drop_fraction = 0.25
    batch = [
        _event(uuid=f"0190a5b2-7c3d-7e4f-8a9b-0c1d2e{index:06x}", distinct_id=f"u{index}")
        for index in range(400)
    ]

    assert _post(client, {"api_key": TOKEN, "batch": batch}).status_code == 200
    assert _post(client, {"api_key": TOKEN, "batch": batch}).status_code == 200

    kept = {event.uuid for event in server.events}
    assert 60 < server.dropped / 2 < 140  # about a quarter, the same events both times
    assert len(server.events) == 2 * len(kept) == 2 * (400 - server.dropped // 2)
    assert all(not server.lost_to_quota(uuid) for uuid in kept)


def test_ingestion_lag_hides_recent_events_from_queries(
    server: CaptureServer, client: httpx.Client
):
    server.ingestion_lag = 60.0
    assert _post(client, {"api_key": TOKEN, "batch": [_event()]}).status_code == 200

    assert _query(client, _count_query(["signed_up"])).json()["results"] == []
    server.ingestion_lag = 0.0
    assert len(_query(client, _count_query(["signed_up"])).json()["results"]) == 1
