"""The capture sink: POST batches to PostHog's /batch/ endpoint, with retries, splitting, bisection
and dry runs."""

import asyncio
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import httpx
import orjson
import pyarrow as pa
import pyarrow.compute as pc
from isal import igzip

from posthog_loader import __version__
from posthog_loader.batching import Batch, BatchLimits
from posthog_loader.capture_body import ENVELOPE_BYTES, BodyLayout, body_header, build_body
from posthog_loader.config import SendSettings
from posthog_loader.errors import (
    EndpointBrokenError,
    PostHogUnavailableError,
    TokenRefusedError,
)
from posthog_loader.pacing import Pacer
from posthog_loader.refusals import BROKEN_AFTER, Episode, KnownGood, RefusalJudge
from posthog_loader.retry import (
    RETRYABLE_ERRORS,
    Failure,
    RetriesExhausted,
    call_async,
    error_failure,
    error_message,
    retryable_status,
    status_failure,
    unreadable_success,
)
from posthog_loader.rows import Reason, quarantine
from posthog_loader.scrub import Scrubber
from posthog_loader.sink import Delivery, PreparedBatch, SendingHaltedError, Sink

# Answers that refuse a request for its content: bisected to find the events refused.
_REFUSALS = (400, 413)
# ISA-L gzip level 1: about zlib level 1's size (~14% of JSON) at a sixth of its CPU, which is
# the difference between gzip being the loader's bottleneck or not.
GZIP_LEVEL = 1


@dataclass(frozen=True)
class CaptureResponse:
    """PostHog's answer to a request: a success, or an error that retrying would not change."""

    status: int
    message: str = ""


class Transport(Protocol):
    def encode(self, body: bytes) -> bytes:
        """Turn a JSON body into wire bytes; runs on a worker thread."""
        ...

    def decode(self, wire: bytes) -> bytes:
        """Wire bytes back to the JSON body (to split a refused request)."""
        ...

    async def post(self, wire: bytes, label: str) -> CaptureResponse | Failure:
        """PostHog's answer, or a Failure worth retrying (see posthog_loader.retry)."""
        ...

    async def aclose(self) -> None: ...


class HttpTransport:
    def __init__(self, settings: SendSettings) -> None:
        self._url = f"{settings.host}/batch/"
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(
                settings.request_timeout, connect=min(10.0, settings.request_timeout)
            ),
            limits=httpx.Limits(
                max_connections=settings.concurrency,
                max_keepalive_connections=settings.concurrency,
            ),
            headers={
                "Content-Type": "application/json",
                "Content-Encoding": "gzip",
                "User-Agent": f"posthog-migrate-loader/{__version__}",
            },
        )

    def encode(self, body: bytes) -> bytes:
        return igzip.compress(body, GZIP_LEVEL, mtime=0)

    def decode(self, wire: bytes) -> bytes:
        return igzip.decompress(wire)

    async def post(self, wire: bytes, label: str) -> CaptureResponse | Failure:
        try:
            response = await self._client.post(self._url, content=wire)
        except RETRYABLE_ERRORS as error:
            return error_failure(error)
        if response.is_success:
            return unreadable_success(response) or CaptureResponse(response.status_code)
        if retryable_status(response.status_code):
            return status_failure(response, error_message(response))
        return CaptureResponse(response.status_code, error_message(response))

    async def aclose(self) -> None:
        await self._client.aclose()


class DryRunTransport:
    """Writes each request body, uncompressed, to a file instead of sending it."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def encode(self, body: bytes) -> bytes:
        return body

    def decode(self, wire: bytes) -> bytes:
        return wire

    async def post(self, wire: bytes, label: str) -> CaptureResponse:
        await asyncio.to_thread((self._directory / f"{label}.json").write_bytes, wire)
        return CaptureResponse(200)

    async def aclose(self) -> None:
        return None


@dataclass(frozen=True)
class EncodedRequest:
    """What is POSTed, plus what splitting it needs; the rows' payloads live only in `wire`."""

    wire: bytes
    layout: BodyLayout
    events_by_name: Counter[str]


def _count_names(rows: pa.Table) -> Counter[str]:
    counts = pc.value_counts(rows.column("event"))
    values, numbers = counts.field("values").to_pylist(), counts.field("counts").to_pylist()
    return Counter(dict(zip(values, numbers, strict=True)))


class Sender(Sink[EncodedRequest]):
    """Delivers request batches: each event is acknowledged by PostHog or quarantined with a reason.

    - 408/429/5xx, network errors and unreadable answers: retried with backoff (posthog_loader.retry),
      then the run stops (exit 4).
    - 400/413: capture refuses a whole request for one bad or too large event, so the batch is
      bisected until the offenders are isolated (a single event is asked about twice); they are
      quarantined with PostHog's message, the rest delivered, as long as PostHog accepts their
      neighbours. When it accepts nothing, the endpoint is broken (posthog_loader.refusals): exit 4,
      nothing quarantined.
    - 401/403: the run stops at once; no further request is started.
    """

    def __init__(
        self,
        transport: Transport,
        api_key: str,
        settings: SendSettings,
        batch_limits: BatchLimits,
        *,
        pacer: Pacer,
        on_retry: Callable[[str], None],
        scrub: Scrubber,
    ) -> None:
        self._transport = transport
        self._scrub = scrub
        self.limits = BatchLimits(batch_limits.max_events, batch_limits.max_bytes - ENVELOPE_BYTES)
        self.concurrency = settings.concurrency
        self._headers = {
            historical: body_header(orjson.dumps(api_key), historical)
            for historical in (True, False)
        }
        self._settings = settings
        self._pacer = pacer
        self._on_retry = on_retry
        self._rng = random.Random()
        self._halted = False
        self._judge = RefusalJudge()

    def halt(self) -> None:
        """Start no further request (already-started ones finish or are cancelled by the caller)."""
        self._halted = True

    def prepare(self, batch: Batch) -> PreparedBatch[EncodedRequest]:
        """Build, check and encode the request off the event loop (on the reader's thread)."""
        checked = build_body(batch.rows, self._headers[batch.historical])
        keys = checked.rows.drop_columns(["payload"])
        batch = replace(batch, rows=keys, quarantined=batch.quarantined + checked.quarantined)
        if checked.body is None or checked.layout is None:
            return PreparedBatch(batch, None)
        wire = self._transport.encode(checked.body)
        return PreparedBatch(batch, EncodedRequest(wire, checked.layout, _count_names(keys)))

    async def deliver(self, prepared: PreparedBatch[EncodedRequest], label: str) -> Delivery:
        batch = prepared.batch
        delivery = Delivery(quarantined=list(batch.quarantined))
        if prepared.content is None:
            return delivery
        episode = Episode()
        await self._send(prepared.content, batch.rows, label, delivery, episode)
        if not self._judge.settled(episode):
            await self._test_endpoint(episode, delivery)
        delivery.quarantined.extend(episode.refused)
        return delivery

    async def aclose(self) -> None:
        await self._transport.aclose()

    def _part(self, body: bytes, layout: BodyLayout, keys: pa.Table, start: int) -> EncodedRequest:
        data, part_layout = layout.cut(body, start, start + keys.num_rows)
        return EncodedRequest(self._transport.encode(data), part_layout, _count_names(keys))

    async def _send(
        self,
        request: EncodedRequest,
        keys: pa.Table,
        label: str,
        delivery: Delivery,
        episode: Episode,
    ) -> None:
        response = await self._post(request.wire, keys.num_rows, label, delivery)
        if keys.num_rows == 1 and response.status in _REFUSALS:
            # PostHog refuses a bad event every time; a proxy's stray 400 may not recur.
            response = await self._post(request.wire, 1, f"{label}.again", delivery)
        if 200 <= response.status < 300:
            self._judge.accepted_request(KnownGood(request.wire, request.layout))
            episode.neighbours_accepted = True
            delivery.delivered += keys.num_rows
            delivery.wire_bytes += len(request.wire)
            delivery.events_by_name.update(request.events_by_name)
            return
        if response.status in _REFUSALS:
            body = await asyncio.to_thread(self._transport.decode, request.wire)
            if keys.num_rows == 1:
                reason = (
                    Reason.REJECTED_BY_POSTHOG
                    if response.status == 400
                    else Reason.TOO_LARGE_FOR_POSTHOG
                )
                row = keys.append_column("payload", pa.array([request.layout.payload(body, 0)]))
                detail = self._scrub(f"HTTP {response.status}: {response.message}")
                (refused,) = quarantine(row, [reason], [detail])
                if self._judge.refused_event(episode, refused):
                    await self._test_endpoint(episode, delivery)
                return
            half = keys.num_rows // 2
            for part, (start, length) in enumerate(((0, half), (half, keys.num_rows - half)), 1):
                part_keys = keys.slice(start, length)
                encoded = await asyncio.to_thread(
                    self._part, body, request.layout, part_keys, start
                )
                await self._send(encoded, part_keys, f"{label}.{part}", delivery, episode)
            return
        self.halt()
        if response.status in (401, 403):
            raise TokenRefusedError(
                f"PostHog at {self._settings.host} refused the project token (HTTP "
                f"{response.status}: {self._scrub(response.message) or 'no message'}). Check that "
                "POSTHOG_API_KEY is the project API key (phc_...) of the project this host serves. "
                "Nothing more was sent; the checkpoint is saved, so the same command resumes."
            )
        raise PostHogUnavailableError(
            f"PostHog at {self._settings.host} answered HTTP {response.status} to POST /batch/ "
            f"({self._scrub(response.message) or 'no message'}). Check --host / POSTHOG_HOST: it must be the "
            "capture host, e.g. https://us.i.posthog.com. The checkpoint is saved; re-run to "
            "resume."
        )

    async def _test_endpoint(self, episode: Episode, delivery: Delivery) -> None:
        """Single events keep being refused with nothing accepted in between: re-send one event
        PostHog accepted earlier. Accepted again, the refusals are about the rows; otherwise the
        endpoint is broken and the run stops without quarantining them."""
        judge = self._judge
        async with judge.testing:
            if judge.settled(episode) and judge.streak < BROKEN_AFTER:
                return  # another batch's test, or an acceptance, settled it meanwhile
            known = judge.known_good
            tested = "and nothing was accepted before them to compare with"
            if known is not None:
                body = await asyncio.to_thread(self._transport.decode, known.wire)
                data, _ = known.layout.cut(body, 0, 1)
                wire = await asyncio.to_thread(self._transport.encode, data)
                answer = await self._post(wire, 1, "endpoint-test", delivery)
                if 200 <= answer.status < 300:
                    judge.accepted_request()
                    return
                tested = (
                    f"and an event it accepted earlier in this run was refused too (HTTP "
                    f"{answer.status})"
                )
            self.halt()
            last = episode.refused[-1].detail if episode.refused else "no message"
            raise EndpointBrokenError(
                f"PostHog at {self._settings.host} refused {judge.streak} different events one "
                f"after another ({last}) {tested}: the endpoint is failing, not the rows (a proxy, "
                "http:// sent to an HTTPS port, an outage). Nothing was quarantined for it. Check "
                "--host / POSTHOG_HOST; the checkpoint is saved, so the same command resumes."
            )

    async def _post(
        self, wire: bytes, events: int, label: str, delivery: Delivery
    ) -> CaptureResponse:
        async def attempt() -> CaptureResponse | Failure:
            await self._pacer.wait(events)
            if self._halted:
                raise SendingHaltedError
            delivery.requests += 1
            return await self._transport.post(wire, label)

        def on_retry(message: str) -> None:
            delivery.retries += 1
            self._on_retry(self._scrub(f"{label}: {message}"))

        settings = self._settings
        try:
            return await call_async(attempt, settings.retry, rng=self._rng, on_retry=on_retry)
        except RetriesExhausted as exhausted:
            self.halt()
            raise PostHogUnavailableError(
                f"PostHog at {settings.host} is unreachable or failing: "
                f"{self._scrub(exhausted.failure.message)} (after {exhausted.retries} retries). "
                "Check --host / POSTHOG_HOST and the network, or PostHog's status page. The "
                "checkpoint stops before the failed batch: re-run the same command to resume (at "
                "most the in-flight batches are re-sent; their deterministic uuids make that "
                "harmless)."
            ) from None
