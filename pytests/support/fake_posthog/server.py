"""CaptureServer: the fake PostHog's routes (capture, query API, admin) over one HTTP server."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import socket
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson

from support.fake_posthog.capture import EVENT_SIZE_LIMIT, CaptureRules, Rejected
from support.fake_posthog.faults import Fault, FaultQueue
from support.fake_posthog.http import (
    Answer,
    Handler,
    Hangup,
    HttpRequest,
    HttpResponse,
    HttpServer,
    json_response,
)
from support.fake_posthog.query_api import QUERY_PATH, QueryApi
from support.fake_posthog.store import (
    EventStore,
    IngestionWarning,
    ReceivedEvent,
    ReceivedRequest,
    Record,
)


class CaptureServer:
    """Runs on its own thread (`start`/`stop`, or `with`) or in the current loop (`serve`)."""

    def __init__(
        self,
        tokens: Iterable[str] = ("phc_test",),
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        record: Record = "full",
        keep_bodies: bool = False,
        event_size_limit: int = EVENT_SIZE_LIMIT,
        record_dir: Path | None = None,
        personal_api_keys: Iterable[str] = ("phx_test",),
        project_id: str = "1",
    ) -> None:
        self.rules = CaptureRules(tokens, event_size_limit)
        self.store = EventStore(record, keep_bodies, record_dir)
        self.query_api = QueryApi(self.store, personal_api_keys, project_id)
        self.faults = FaultQueue()
        self.http = HttpServer(self._route, host, port)
        # Delay every capture request by this much (makes a load slow enough to interrupt).
        self.default_delay = 0.0
        # Quote the request in capture's own error answers, as some proxies and versions do.
        self.echo_requests_in_errors = False
        self.routes: dict[str, Handler] = {
            "/batch": self._capture,
            "/batch/": self._capture,
            "/_admin/stats": self._admin_stats,
            "/_admin/faults": self._admin_faults,
            "/_admin/reset": self._admin_reset,
        }
        self._request_ids = itertools.count()

    # -- settings tests change while serving ----------------------------------------------------

    @property
    def tokens(self) -> set[str]:
        return self.rules.tokens

    @tokens.setter
    def tokens(self, tokens: Iterable[str]) -> None:
        self.rules.tokens = set(tokens)

    @property
    def event_size_limit(self) -> int:
        """Lower it to make ordinary events "too big" in tests."""
        return self.rules.event_size_limit

    @event_size_limit.setter
    def event_size_limit(self, limit: int) -> None:
        self.rules.event_size_limit = limit

    @property
    def drop_fraction(self) -> float:
        return self.store.drop_fraction

    @drop_fraction.setter
    def drop_fraction(self, fraction: float) -> None:
        self.store.drop_fraction = fraction

    @property
    def ingestion_lag(self) -> float:
        return self.query_api.ingestion_lag

    @ingestion_lag.setter
    def ingestion_lag(self, seconds: float) -> None:
        self.query_api.ingestion_lag = seconds

    @property
    def fault_hook(self) -> Callable[[int], Fault | None] | None:
        """Called with each capture request's index (0-based); a Fault it returns applies."""
        return self.faults.hook

    @fault_hook.setter
    def fault_hook(self, hook: Callable[[int], Fault | None] | None) -> None:
        self.faults.hook = hook

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return self.http.host

    @property
    def port(self) -> int:
        return self.http.port

    @property
    def url(self) -> str:
        return self.http.url

    async def serve(
        self, ready: Callable[[], None] | None = None, sock: socket.socket | None = None
    ) -> None:
        await self.http.serve(ready, sock)

    def start(self) -> CaptureServer:
        self.http.start()
        return self

    def stop(self) -> None:
        self.http.stop()

    def __enter__(self) -> CaptureServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _route(self, request: HttpRequest) -> Handler | None:
        handler = self.routes.get(request.path)
        if handler is None and QUERY_PATH.fullmatch(request.path):
            return self.query_api.handle
        return handler

    # -- faults and inspection (what tests call) ---------------------------------------------------

    def inject(self, *faults: Fault, times: int = 1) -> None:
        """Apply these faults, in order, to the next capture requests (repeated `times` times)."""
        self.faults.inject(*faults, times=times)

    def warn(self, type_: str, source: str = "capture", **details: Any) -> None:
        """Add a row to the emulated system.ingestion_warnings."""
        self.store.warn(IngestionWarning(type_, source, details, dt.datetime.now(dt.UTC)))

    @property
    def record(self) -> Record:
        return self.store.record

    @property
    def events(self) -> list[ReceivedEvent]:
        return self.store.events

    @property
    def requests(self) -> list[ReceivedRequest]:
        return self.store.requests

    @property
    def queries(self) -> list[dict[str, Any]]:
        """Bodies of the query API requests answered with results."""
        return self.store.queries

    @property
    def dropped(self) -> int:
        """Events accepted with 200 but not kept (drop_fraction)."""
        return self.store.dropped

    @property
    def event_count(self) -> int:
        return self.store.event_count

    def uuids(self) -> list[str | None]:
        return self.store.uuids()

    def lost_to_quota(self, uuid: Any) -> bool:
        return self.store.lost_to_quota(uuid)

    def deduplicated(self) -> dict[tuple[str | None, str, dt.date, str], ReceivedEvent]:
        return self.store.deduplicated()

    def stats(self) -> dict[str, Any]:
        return self.store.stats()

    def reset(self) -> None:
        self.store.reset()
        self.faults.clear()

    # -- capture -------------------------------------------------------------------------------

    async def _capture(self, request: HttpRequest) -> Answer:
        arrived = time.monotonic()
        request_id = next(self._request_ids)
        fault = self.faults.next(request_id)
        delay = (fault.delay if fault else 0.0) or self.default_delay
        if delay:
            await asyncio.sleep(delay)
        compressed = self.rules.compressed(request)

        def log(status: int, events: int = 0, **accepted: Any) -> None:
            self.store.log_request(
                ReceivedRequest(
                    request_id,
                    request.path,
                    status,
                    events,
                    compressed,
                    arrived,
                    time.monotonic(),
                    fault=fault.name if fault is not None and fault.replaces_answer else "",
                    **accepted,
                )
            )

        if fault is not None and fault.replaces_answer and not fault.after_store:
            log(0 if fault.hangup else fault.status or 0)
            return self._fault_answer(fault, request)
        try:
            accepted = self.rules.accept(request)
        except Rejected as rejected:
            if fault is not None and fault.replaces_answer:  # the answer is lost all the same
                log(0 if fault.hangup else fault.status or 0)
                return self._fault_answer(fault, request)
            log(rejected.status)
            if self.echo_requests_in_errors:
                return json_response(
                    rejected.status, {"error": f"{rejected.message}: {self._quote(request)}"}
                )
            return rejected.response()
        self.store.store(accepted, request_id)
        log(
            0 if fault is not None and fault.hangup else 200,
            len(accepted.events),
            token=accepted.token,
            historical_migration=accepted.historical,
            has_sent_at=accepted.sent_at is not None,
            body=accepted.data if self.store.keep_bodies else None,
        )
        if fault is not None and fault.replaces_answer:
            return self._fault_answer(fault, request)
        return json_response(200, {"status": "Ok"})

    def _quote(self, request: HttpRequest) -> str:
        return self.rules.readable_body(request)[:300].decode("utf-8", "replace")

    def _fault_answer(self, fault: Fault, request: HttpRequest) -> Answer:
        if fault.hangup is not None:
            return Hangup(reset=fault.hangup == "reset")
        status = fault.status or 500
        headers = (("retry-after", fault.retry_after),) if fault.retry_after else ()
        if fault.body is not None:
            return HttpResponse(status, fault.body, (*fault.headers, *headers))
        if fault.echo_request:
            return json_response(
                status, {"error": f"could not process request: {self._quote(request)}"}, headers
            )
        return json_response(
            status, {"status": status, "code": "injected_fault", "error": "injected fault"}, headers
        )

    # -- admin (for a server in another process) -----------------------------------------------

    async def _admin_stats(self, request: HttpRequest) -> HttpResponse:
        return json_response(200, self.stats())

    async def _admin_faults(self, request: HttpRequest) -> HttpResponse:
        """Body: {"faults": [{"status", "retry_after", "delay", "hangup", "after_store"}...],
        "times": n, "default_delay": seconds, "always": {...} (every request; null to stop)}."""
        spec = orjson.loads(request.body or b"{}")
        if "default_delay" in spec:
            self.default_delay = float(spec["default_delay"])
        if "always" in spec:
            always = None if spec["always"] is None else Fault.from_dict(spec["always"])
            self.fault_hook = None if always is None else (lambda _index: always)
        self.inject(
            *(Fault.from_dict(item) for item in spec.get("faults", [])), times=spec.get("times", 1)
        )
        return json_response(200, {"status": "Ok"})

    async def _admin_reset(self, request: HttpRequest) -> HttpResponse:
        self.reset()
        return json_response(200, {"status": "Ok"})
