"""HTTP/1.1 on h11 and asyncio: requests in, responses (or a hang-up) out, on a thread of its own or
in the caller's loop. Knows nothing of PostHog: handlers are looked up by the `route` callback."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import h11
import orjson

_READ_CHUNK = 256 * 1024


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Hangup:
    """Close the connection without answering: politely (FIN) or, with `reset`, with a TCP RST,
    as a crashing proxy or a load balancer dropping the connection does."""

    reset: bool = False


Answer = HttpResponse | Hangup
Handler = Callable[[HttpRequest], Awaitable[Answer]]


def json_response(
    status: int, payload: Any, headers: Iterable[tuple[str, str]] = ()
) -> HttpResponse:
    return HttpResponse(
        status, orjson.dumps(payload), (("content-type", "application/json"), *headers)
    )


class HttpServer:
    """Serves `route(request) -> handler` until stopped; a bug in a handler answers 500."""

    def __init__(
        self, route: Callable[[HttpRequest], Handler | None], host: str, port: int
    ) -> None:
        self._route = route
        self.host = host
        self.port = port
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def serve(
        self, ready: Callable[[], None] | None = None, sock: socket.socket | None = None
    ) -> None:
        """Serve in the running loop until `stop` is called (or the task is cancelled).

        With `sock`, accept on an already listening socket (shared by worker processes).
        """
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        if sock is None:
            server = await asyncio.start_server(self._connection, self.host, self.port)
        else:
            server = await asyncio.start_server(self._connection, sock=sock)
        self.port = server.sockets[0].getsockname()[1]
        if ready:
            ready()
        try:
            await self._stopping.wait()
        finally:
            server.close()
            for writer in list(self._writers):
                writer.close()
            await server.wait_closed()

    def start(self) -> None:
        ready = threading.Event()
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self.serve(ready.set)), name="fake-posthog", daemon=True
        )
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fake PostHog did not start")

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        connection = h11.Connection(h11.SERVER, max_incomplete_event_size=64 * 1024)
        try:
            while True:
                request = await self._read_request(connection, reader)
                if request is None:
                    return
                handler = self._route(request)
                if handler is None:
                    answer: Answer = json_response(404, {"error": "not found"})
                else:
                    try:
                        answer = await handler(request)
                    except Exception as error:  # a bug in a handler must not look like a drop
                        answer = json_response(500, {"error": repr(error)})
                if isinstance(answer, Hangup):
                    if answer.reset:
                        _reset_on_close(writer)
                    return
                writer.write(self._encode_response(connection, answer))
                await writer.drain()
                if connection.our_state is h11.MUST_CLOSE:
                    return
                connection.start_next_cycle()
        except (h11.ProtocolError, ConnectionError):
            return
        finally:
            self._writers.discard(writer)
            writer.close()

    @staticmethod
    async def _next_event(connection: h11.Connection, reader: asyncio.StreamReader) -> Any:
        while True:
            event = connection.next_event()
            if event is not h11.NEED_DATA:
                return event
            connection.receive_data(await reader.read(_READ_CHUNK))

    async def _read_request(
        self, connection: h11.Connection, reader: asyncio.StreamReader
    ) -> HttpRequest | None:
        start = await self._next_event(connection, reader)
        if not isinstance(start, h11.Request):
            return None
        parts: list[bytes] = []
        while True:
            event = await self._next_event(connection, reader)
            if isinstance(event, h11.Data):
                parts.append(event.data)
            elif isinstance(event, h11.EndOfMessage):
                break
            else:
                return None
        target = urlsplit(start.target.decode())
        return HttpRequest(
            method=start.method.decode(),
            path=target.path,
            query=parse_qs(target.query),
            headers={name.decode().lower(): value.decode() for name, value in start.headers},
            body=b"".join(parts),
        )

    @staticmethod
    def _encode_response(connection: h11.Connection, response: HttpResponse) -> bytes:
        headers = [*response.headers, ("content-length", str(len(response.body)))]
        return b"".join(
            (
                connection.send(h11.Response(status_code=response.status, headers=headers)) or b"",
                connection.send(h11.Data(data=response.body)) or b"",
                connection.send(h11.EndOfMessage()) or b"",
            )
        )


def _reset_on_close(writer: asyncio.StreamWriter) -> None:
    """SO_LINGER 0: closing the socket sends RST instead of FIN (the client sees ECONNRESET)."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport = writer.transport
    transport.abort()
