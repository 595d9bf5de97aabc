"""A local Amplitude Export API on 127.0.0.1 that behaves as Amplitude documents it (amplitude-docs export.md).

`GET /api/2/export?start=YYYYMMDDTHH&end=YYYYMMDDTHH` with HTTP Basic auth `api_key:secret_key`:
- 401 without the right credentials;
- 400 for a malformed hour, an end before the start, more than 365 days, or an export larger than
  `size_limit` bytes (Amplitude: 4 GB, "shorten the time range");
- 404 when no file falls in the range;
- 200 with a zip of the range's `<project_id>/<project_id>_<YYYY-MM-DD>_<H>#<n>.json.gz` files (hours inclusive).

Faults are programmed per request (`inject`): a status with an optional Retry-After, or an answer cut off after
half its bytes (as a dropped connection leaves it). Every request is recorded as (start, end, status).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import io
import re
import threading
import zipfile
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

HOST = "127.0.0.1"
MEMBER = re.compile(
    r"^(?P<project>\d+)/(?P=project)_(?P<day>\d{4}-\d{2}-\d{2})_(?P<hour>\d{1,2})#\d+\.json\.gz$"
)


@dataclass(frozen=True)
class Fault:
    status: int = 200
    retry_after: str | None = None
    # Send the headers of a whole archive, then only half of it, and close the connection.
    truncate: bool = False


@dataclass(frozen=True)
class ExportRequest:
    start: str
    end: str
    status: int


@dataclass
class AmplitudeExportServer:
    api_key: str
    secret_key: str
    size_limit: int = 4 * 1024**3
    # hour -> [(member name, gzipped bytes)]
    files: dict[dt.datetime, list[tuple[str, bytes]]] = field(default_factory=dict)
    requests: list[ExportRequest] = field(default_factory=list)
    _faults: deque[Fault] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    def add_archive(self, archive: Path) -> None:
        """Serve the hourly files of an Export API zip (e.g. posthog-migrate-sample's)."""
        with zipfile.ZipFile(archive) as zipped:
            for name in zipped.namelist():
                match = MEMBER.match(name)
                if match is None:
                    raise ValueError(f"{name} is not named as the Export API names its files")
                hour = dt.datetime.fromisoformat(match["day"]) + dt.timedelta(
                    hours=int(match["hour"])
                )
                self.files.setdefault(hour, []).append((name, zipped.read(name)))

    def inject(self, *faults: Fault) -> None:
        """The next requests get these answers, in order; then the normal ones again."""
        with self._lock:
            self._faults.extend(faults)

    @property
    def endpoint(self) -> str:
        assert self._server is not None
        return f"http://{HOST}:{self._server.server_address[1]}/api/2/export"

    @contextlib.contextmanager
    def running(self) -> Iterator[AmplitudeExportServer]:
        handler = type("Handler", (_Handler,), {"backend": self})
        self._server = ThreadingHTTPServer((HOST, 0), handler)
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
            thread.join(timeout=10)

    # ---------- request handling (on the server's threads)

    def answer(
        self, authorization: str | None, query: str
    ) -> tuple[int, dict[str, str], bytes, bool]:
        params = {key: values[0] for key, values in parse_qs(query).items()}
        start, end = params.get("start", ""), params.get("end", "")
        with self._lock:
            fault = self._faults.popleft() if self._faults else None
        status, headers, body = self._normal_answer(authorization, start, end)
        truncate = False
        if fault is not None and fault.status != 200:
            status, body = fault.status, f"injected {fault.status}".encode()
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
        elif fault is not None and fault.truncate:
            truncate = True
        with self._lock:
            self.requests.append(ExportRequest(start, end, status))
        return status, headers, body, truncate

    def _normal_answer(
        self, authorization: str | None, start: str, end: str
    ) -> tuple[int, dict[str, str], bytes]:
        expected = (
            "Basic " + base64.b64encode(f"{self.api_key}:{self.secret_key}".encode()).decode()
        )
        if authorization != expected:
            return 401, {}, b"Invalid API key or secret key"
        try:
            first = dt.datetime.strptime(start, "%Y%m%dT%H")
            last = dt.datetime.strptime(end, "%Y%m%dT%H")
        except ValueError:
            return 400, {}, b"Invalid start or end: expected YYYYMMDDTHH"
        if last < first or last - first > dt.timedelta(days=365):
            return 400, {}, b"Invalid range: end before start or longer than 365 days"
        members = [
            member for hour, hour_files in sorted(self.files.items()) if first <= hour <= last
            for member in hour_files
        ]  # fmt: skip
        if not members:
            return 404, {}, b"No data available for the time range requested"
        if sum(len(content) for _, content in members) > self.size_limit:
            return 400, {}, b"Raw data files were too large; shorten the time range"
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as zipped:
            for name, content in members:
                zipped.writestr(name, content)
        return 200, {"Content-Type": "application/zip"}, buffer.getvalue()


class _Handler(BaseHTTPRequestHandler):
    backend: AmplitudeExportServer

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path != "/api/2/export":
            self.send_error(404)
            return
        status, headers, body, truncate = self.backend.answer(
            self.headers.get("Authorization"), url.query
        )
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2] if truncate else body)
        if truncate:
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:  # quiet: tests read `requests`
        pass
