"""One request to Amplitude's Export API (amplitude.com/docs/apis/analytics/export), answered as a typed outcome.

`GET <endpoint>?start=YYYYMMDDTHH&end=YYYYMMDDTHH` (both hours included, selected by server_upload_time) with
HTTP Basic auth `api_key:secret_key` answers a zip of gzipped JSON-lines files. Amplitude documents 400 for an
export over 4 GB ("shorten the time range"), 404 for no data in the range and 504 for a timeout on large data.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import httpx

from posthog_loader.retry import RETRYABLE_ERRORS, parse_retry_after, retryable_status
from posthog_migrate_fetch.errors import ConfigError, CredentialsRefusedError, FetchError
from posthog_migrate_fetch.hours import HourRange


class Region(StrEnum):
    us = "us"
    eu = "eu"


ENDPOINTS = {
    Region.us: "https://amplitude.com/api/2/export",
    Region.eu: "https://analytics.eu.amplitude.com/api/2/export",
}
API_KEY_VARIABLE = "AMPLITUDE_API_KEY"
SECRET_KEY_VARIABLE = "AMPLITUDE_SECRET_KEY"
_MAX_MESSAGE_CHARS = 300


@dataclass(frozen=True)
class Credentials:
    api_key: str
    secret_key: str

    @classmethod
    def from_environment(cls) -> Credentials:
        missing = [
            name for name in (API_KEY_VARIABLE, SECRET_KEY_VARIABLE) if not os.environ.get(name)
        ]
        if missing:
            raise ConfigError(
                f"Set {' and '.join(missing)}: the project's API key and secret key (Amplitude: Settings → "
                "Projects → <project> → General)."
            )
        return cls(os.environ[API_KEY_VARIABLE], os.environ[SECRET_KEY_VARIABLE])

    def __repr__(self) -> str:  # never shown, even in a traceback's locals
        return "Credentials(<hidden>)"


class Answer(StrEnum):
    archive = "archive"
    no_data = "no_data"
    too_large = "too_large"
    retry = "retry"


@dataclass(frozen=True)
class Outcome:
    answer: Answer
    reason: str = ""
    status: int | None = None
    retry_after: float | None = None
    archive_bytes: int = 0


class ExportApi:
    """Streams each answer to a file, so memory stays flat whatever the archive's size."""

    def __init__(self, endpoint: str, credentials: Credentials, timeout: float) -> None:
        self.endpoint = endpoint
        self._client = httpx.Client(
            auth=httpx.BasicAuth(credentials.api_key, credentials.secret_key),
            timeout=httpx.Timeout(timeout, connect=min(30.0, timeout)),
            headers={"User-Agent": "posthog-migrate-fetch"},
            follow_redirects=True,
        )

    def close(self) -> None:
        self._client.close()

    def export(self, span: HourRange, archive: Path, on_bytes: Callable[[int], None]) -> Outcome:
        try:
            with self._client.stream("GET", self.endpoint, params=span.api_params()) as response:
                status = response.status_code
                if status == 200:
                    size = 0
                    with archive.open("wb") as sink:
                        for chunk in response.iter_bytes(1024 * 1024):
                            sink.write(chunk)
                            size += len(chunk)
                            on_bytes(len(chunk))
                    return Outcome(Answer.archive, status=status, archive_bytes=size)
                response.read()
                return _classify_failure(response)
        except RETRYABLE_ERRORS as exc:
            # Timeouts, refused or cut connections (including a body shorter than its Content-Length).
            return Outcome(Answer.retry, f"{type(exc).__name__}: {exc}")


def _classify_failure(response: httpx.Response) -> Outcome:
    status = response.status_code
    said = _message(response)
    if status == 404:
        return Outcome(Answer.no_data, "no data in this range", status)
    if status == 400:
        return Outcome(Answer.too_large, f"400 (export over Amplitude's 4 GB limit) {said}", status)
    if status in (401, 403):
        raise CredentialsRefusedError(
            f"Amplitude answered {status} {said}: check AMPLITUDE_API_KEY and AMPLITUDE_SECRET_KEY (the "
            "project's keys, for this region's endpoint)."
        )
    if retryable_status(status):
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return Outcome(Answer.retry, f"{status} {said}".strip(), status, retry_after)
    raise FetchError(f"Amplitude answered {status} {said}: not an answer the Export API documents.")


def _message(response: httpx.Response) -> str:
    text = response.text.strip().replace("\n", " ")
    return f"({text[:_MAX_MESSAGE_CHARS]})" if text else ""
