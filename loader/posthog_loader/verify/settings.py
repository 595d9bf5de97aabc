"""`load-posthog verify` settings: PostHog's query API (app host, project, personal key), the days
to compare and the tolerance."""

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from posthog_loader.config import ApiKey, parse_base_url, parse_duration
from posthog_loader.errors import ConfigError

# The query API lives on the app host, not on the capture host (us.i.posthog.com) the load uses.
DEFAULT_API_HOST = "https://us.posthog.com"
PERSONAL_KEY_ENV = "POSTHOG_PERSONAL_API_KEY"
PERSONAL_KEY_PLACEHOLDER = f"<{PERSONAL_KEY_ENV}>"
_CAPTURE_HOST = re.compile(r"^(?P<region>[a-z]+)\.i\.posthog\.com$")
_TOLERANCE_PART = re.compile(r"^(\d+(?:\.\d+)?)(%?)$")


@dataclass(frozen=True)
class Tolerance:
    """How far PostHog's count for one (day, event) may be from the warehouse's: the larger of an
    absolute number of events and a percentage of the expected count."""

    absolute: int = 0
    percent: float = 0.0

    def allowance(self, expected: int) -> float:
        return max(self.absolute, self.percent / 100 * expected)

    def __str__(self) -> str:
        if self.absolute and self.percent:
            return f"{self.absolute},{self.percent:g}%"
        return f"{self.percent:g}%" if self.percent else str(self.absolute)


def parse_tolerance(text: str) -> Tolerance:
    absolute, percent, seen = 0, 0.0, set()
    for part in (piece.strip() for piece in text.split(",")):
        match = _TOLERANCE_PART.match(part)
        kind = "percent" if match and match.group(2) else "absolute"
        if match is None or kind in seen or (kind == "absolute" and "." in match.group(1)):
            raise ConfigError(
                f"--tolerance {text!r}: expected a number of events (5), a percentage (0.1%), or "
                "both (5,0.1%: whichever allows more for each day and event)."
            )
        seen.add(kind)
        if kind == "percent":
            percent = float(match.group(1))
        else:
            absolute = int(match.group(1))
    return Tolerance(absolute, percent)


def read_personal_api_key(environ: Mapping[str, str]) -> ApiKey:
    value = environ.get(PERSONAL_KEY_ENV, "").strip()
    if not value:
        raise ConfigError(
            f"{PERSONAL_KEY_ENV} is not set. verify reads PostHog's counts through its query API, "
            "which needs a personal API key (phx_..., Settings → Personal API keys) with the "
            "query:read scope. It is read only from the environment."
        )
    if value.startswith("phc_"):
        raise ConfigError(
            f"{PERSONAL_KEY_ENV} holds a project API key (phc_...), which can only capture. The "
            "query API needs a personal API key (phx_...) with the query:read scope."
        )
    if any(character.isspace() for character in value):
        raise ConfigError(f"{PERSONAL_KEY_ENV} contains whitespace; paste the key alone.")
    return ApiKey(value, PERSONAL_KEY_PLACEHOLDER)


def normalize_api_host(host: str) -> str:
    url = parse_base_url(
        host,
        "--api-host / POSTHOG_API_HOST",
        f"PostHog's app host, e.g. {DEFAULT_API_HOST} (US cloud), https://eu.posthog.com (EU "
        "cloud) or your instance's URL",
    )
    capture = _CAPTURE_HOST.match(urlsplit(url).hostname or "")
    if capture is not None:
        raise ConfigError(
            f"--api-host {url!r} is PostHog's capture host; its query API is on the app host: "
            f"https://{capture.group('region')}.posthog.com."
        )
    return url


def parse_warnings_since(text: str, now: dt.datetime) -> dt.datetime:
    """--warnings-since: a UTC day (2026-11-20), or how long before now (30d, 36h)."""
    try:
        return dt.datetime.combine(dt.date.fromisoformat(text.strip()), dt.time())
    except ValueError:
        return now - parse_duration(text, "--warnings-since")


def parse_project_id(text: str | None) -> str:
    if text is None or not text.strip():
        raise ConfigError(
            "No PostHog project id: set POSTHOG_PROJECT_ID or pass --project-id (the number in "
            "your project's URL, /project/<id>, or Project settings → Project ID)."
        )
    if not text.strip().isdigit():
        raise ConfigError(
            f"--project-id / POSTHOG_PROJECT_ID {text!r} is not a project id (digits)."
        )
    return text.strip()


@dataclass(frozen=True)
class VerifySettings:
    project_dir: Path
    profiles_dir: Path | None
    target: str | None
    state_schema: str | None
    state_file: Path | None
    api_host: str
    project_id: str
    personal_key: ApiKey
    # UTC days to compare, both included; None: from the first day the warehouse has.
    since: dt.date | None
    until: dt.date | None
    tolerance: Tolerance
    # Extra HogQL condition on PostHog's events (e.g. to leave out events captured live).
    hogql_filter: str | None
    # Keep asking PostHog this long while counts differ (ingestion lags behind capture).
    wait: dt.timedelta
    # Ingestion warnings raised from then on (UTC) are reported: when the import ran.
    warnings_since: dt.datetime
    request_timeout: float
    report_path: Path | None
