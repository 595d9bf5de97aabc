"""PostHog's query API: `POST {api_host}/api/projects/{project_id}/query/` with a HogQL query,
authenticated by a personal API key, retried by the same policy as capture requests
(posthog_loader.retry)."""

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

import httpx
import orjson

from posthog_loader import __version__
from posthog_loader.config import ApiKey
from posthog_loader.errors import ConfigError, PostHogUnavailableError, TokenRefusedError
from posthog_loader.retry import (
    RETRYABLE_ERRORS,
    Failure,
    RetriesExhausted,
    RetryPolicy,
    call,
    error_failure,
    error_message,
    retryable_status,
    status_failure,
    unreadable_success,
)
from posthog_loader.scrub import Scrubber

RETRY_POLICY = RetryPolicy(max_retries=4, base_delay=2.0, max_delay=60.0)


@dataclass(frozen=True)
class HogQLResult:
    columns: list[str]
    rows: list[list[Any]]


def _message(response: httpx.Response) -> str:
    # the query API puts its reason under `detail`
    return error_message(response, keys=("detail", "error", "message"))


class HogQLClient:
    def __init__(
        self,
        api_host: str,
        project_id: str,
        key: ApiKey,
        *,
        timeout: float,
        scrub: Scrubber,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._api_host = api_host
        self._project_id = project_id
        self._key = key
        self._scrub = scrub
        self._url = f"{api_host}/api/projects/{project_id}/query/"
        self._sleep = sleep
        self._rng = random.Random()
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
            headers={
                "Authorization": f"Bearer {key.reveal()}",
                "User-Agent": f"posthog-migrate-loader/{__version__}",
            },
        )
        # How many queries were sent, retries included (the API allows about 120 an hour).
        self.requests = 0

    def close(self) -> None:
        self._client.close()

    def query(self, hogql: str, *, purpose: str) -> HogQLResult:
        """Run one HogQL query; purpose names it in errors ("count", "ingestion warnings")."""
        body = {
            "query": {"kind": "HogQLQuery", "query": hogql},
            # Counts must be computed now, never served from a cache made before the load.
            "refresh": "force_blocking",
            "name": "load-posthog verify",
        }

        def attempt() -> HogQLResult | Failure:
            self.requests += 1
            try:
                response = self._client.post(self._url, json=body)
            except RETRYABLE_ERRORS as error:
                return error_failure(error)
            if response.is_success:
                return unreadable_success(response) or self._result(response)
            if retryable_status(response.status_code):
                return status_failure(response, _message(response))
            self._refuse(response, purpose)

        try:
            return call(attempt, RETRY_POLICY, sleep=self._sleep, rng=self._rng)
        except RetriesExhausted as exhausted:
            raise PostHogUnavailableError(
                f"PostHog's query API at {self._api_host} is unreachable or failing: "
                f"{self._scrub(exhausted.failure.message)} (after {exhausted.retries} retries). "
                "Its queries are rate limited (about 120 an hour per key); try again later."
            ) from None

    def _refuse(self, response: httpx.Response, purpose: str) -> NoReturn:
        status, message = response.status_code, self._scrub(_message(response))
        if status in (401, 403):
            raise TokenRefusedError(
                f"PostHog at {self._api_host} refused the personal API key for project "
                f"{self._project_id} (HTTP {status}: {message or 'no message'}). Set "
                "POSTHOG_PERSONAL_API_KEY to a personal API key (phx_...) with the query:read "
                "scope and access to this project."
            )
        if status == 404:
            raise ConfigError(
                f"PostHog at {self._api_host} has no project {self._project_id} (HTTP 404). Check "
                "POSTHOG_PROJECT_ID / --project-id, and that --api-host is the app host of that "
                "project's region (https://us.posthog.com or https://eu.posthog.com)."
            )
        if status == 400:
            hint = (
                " If you passed --hogql-filter, check it is a valid HogQL condition on the events "
                "table."
                if purpose == "count"
                else " Check that --api-host is the app host of a PostHog with "
                "system.ingestion_warnings (PostHog Cloud has it)."
            )
            raise ConfigError(
                f"PostHog rejected the {purpose} query: {message or 'no message'}.{hint}"
            )
        raise PostHogUnavailableError(
            f"PostHog's query API at {self._api_host} answered HTTP {status} ({message}). Check "
            "--api-host: it must be PostHog's app host, e.g. https://us.posthog.com."
        )

    def _result(self, response: httpx.Response) -> HogQLResult:
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("results"), list):
            raise PostHogUnavailableError(
                f"PostHog at {self._api_host} answered the query without results "
                f"({self._scrub(response.text[:200])!r}). Check --api-host: it must be PostHog's app host."
            )
        return HogQLResult(list(body.get("columns") or []), body["results"])
