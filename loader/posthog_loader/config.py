"""Loader settings: which models, where to send them, and the PostHog project token."""

import datetime as dt
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from posthog_loader.errors import ConfigError
from posthog_loader.export.destination import DestinationSpec
from posthog_loader.retry import RetryPolicy
from posthog_loader.sharding import Shard

DEFAULT_HOST = "https://us.i.posthog.com"
# PostHog's historical lane only takes events at least this old.
HISTORICAL_MIN_AGE = dt.timedelta(hours=48)
API_KEY_ENV = "POSTHOG_API_KEY"
API_KEY_PLACEHOLDER = "<POSTHOG_API_KEY>"

# Canonical order: identity links before persons before events, because PostHog stamps each event
# with its person (and that person's properties) at ingestion time.
MODEL_VIEWS: Mapping[str, str] = {
    "aliases": "posthog_aliases",
    "persons": "posthog_persons",
    "events": "posthog_events",
}


class RecentMode(StrEnum):
    """What to do with events younger than 48 h, which PostHog's historical lane does not accept."""

    HOLD = "hold"
    LIVE = "live"


@dataclass(frozen=True)
class ApiKey:
    """A PostHog key; str() and repr() never show it (only its placeholder), only reveal() does."""

    _value: str = field(repr=False)
    placeholder: str = API_KEY_PLACEHOLDER

    def reveal(self) -> str:
        return self._value

    def __str__(self) -> str:
        return self.placeholder


def read_api_key(environ: Mapping[str, str], *, required: bool) -> ApiKey | None:
    raw = environ.get(API_KEY_ENV)
    if raw is None:
        if required:
            raise ConfigError(
                f"{API_KEY_ENV} is not set. Export your PostHog project API key (it starts with "
                "phc_; Project settings → Project API key). The loader reads it only from the "
                "environment so it never lands in shell history or scheduler configs."
            )
        return None
    value = raw.strip()
    if not value:
        raise ConfigError(f"{API_KEY_ENV} is empty. Set it to your project API key (phc_...).")
    if value.startswith("phx_"):
        raise ConfigError(
            f"{API_KEY_ENV} holds a personal API key (phx_...). PostHog's capture API refuses "
            "those; use the project API key (phc_..., Project settings → Project API key)."
        )
    if any(character.isspace() for character in value):
        raise ConfigError(f"{API_KEY_ENV} contains whitespace; paste the key alone.")
    return ApiKey(value)


def check_state_location(state_file: Path | None, state_schema: str | None) -> None:
    """--state-file and --state-schema are two answers to one question: at most one is given."""
    if state_file is not None and state_schema is not None:
        raise ConfigError("--state-file and --state-schema both say where state goes; pass one.")


def parse_models(text: str) -> tuple[str, ...]:
    """Parse --models into the canonical order, whatever order the user typed."""
    requested = {name.strip() for name in text.split(",") if name.strip()}
    unknown = requested - MODEL_VIEWS.keys()
    if unknown or not requested:
        raise ConfigError(
            f"--models {text!r}: expected a comma-separated subset of {', '.join(MODEL_VIEWS)}."
        )
    return tuple(name for name in MODEL_VIEWS if name in requested)


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([dhms])", re.IGNORECASE)
_DURATION_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def parse_duration(text: str, flag: str) -> dt.timedelta:
    """A duration such as 3d, 36h, 90m, 1d12h or 0."""
    compact = text.strip().replace(" ", "")
    if compact == "0":
        return dt.timedelta(0)
    parts = _DURATION_PART.findall(compact)
    if not parts or "".join(number + unit for number, unit in parts) != compact:
        raise ConfigError(f"{flag} {text!r}: expected a duration such as 3d, 36h, 90m or 1d12h.")
    return sum(
        (dt.timedelta(**{_DURATION_UNITS[unit.lower()]: float(number)}) for number, unit in parts),
        dt.timedelta(0),
    )


def parse_base_url(text: str, flag: str, examples: str) -> str:
    """An http(s) base URL without credentials, query or fragment (keys come from the environment
    only, so they never sit in a scheduler's config or a process list)."""
    parts = urlsplit(text.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(f"{flag} is not an http(s) URL. Use {examples}.")
    if "@" in parts.netloc:
        raise ConfigError(
            f"{flag} carries credentials before the host (user:password@). PostHog takes its keys "
            "from the environment (POSTHOG_API_KEY, POSTHOG_PERSONAL_API_KEY) only: remove them "
            "from the URL, and consider them exposed."
        )
    if parts.query or parts.fragment:
        raise ConfigError(
            f"{flag} has a query string or fragment; give the base URL only ({examples})."
        )
    try:
        _ = parts.port
    except ValueError:
        raise ConfigError(f"{flag} has a port that is not a number.") from None
    return text.strip().rstrip("/")


def normalize_host(host: str) -> str:
    return parse_base_url(
        host,
        "--host / POSTHOG_HOST",
        f"e.g. {DEFAULT_HOST} (US cloud), https://eu.i.posthog.com (EU cloud) or your instance's "
        "URL",
    )


def unencrypted_remote(url: str) -> bool:
    """http:// to a host other than this machine: keys and events would cross the network in
    clear text."""
    parts = urlsplit(url)
    if parts.scheme != "http":
        return False
    host = parts.hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


def check_writable(path: Path | None, flag: str) -> None:
    """Fail now, before anything is sent, if a file the run will write at its end cannot be."""
    if path is None:
        return
    existed = path.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("ab"):
            pass
    except OSError as error:
        raise ConfigError(
            f"{flag} {path} cannot be written ({error.strerror or error}). Pass a path in a "
            "folder this user can write to."
        ) from None
    if not existed:
        path.unlink()


@dataclass(frozen=True)
class SendSettings:
    host: str
    concurrency: int
    rate: float | None
    retry: RetryPolicy
    request_timeout: float


@dataclass(frozen=True)
class CaptureSettings:
    """The capture lane: POST each batch to PostHog's /batch/ endpoint."""

    api_key: ApiKey | None
    send: SendSettings
    batch_events: int
    batch_bytes: int
    recent: RecentMode
    dry_run: bool
    dry_run_dir: Path | None
    # Send the rows PostHog refused in earlier runs again, before the rest.
    retry_quarantined: bool = False


@dataclass(frozen=True)
class ExportSettings:
    """The export lane: write each batch as a gzipped JSON-lines part for PostHog's managed import."""

    destination: DestinationSpec
    part_events: int
    part_bytes: int
    # Parts compressed and written at once.
    concurrency: int


@dataclass(frozen=True)
class LoadSettings:
    """One run over the contract views: what to read, where its state is, and the lane the batches
    take (capture requests, or export parts). Both lanes share the state: what one has handed
    over, the other skips."""

    project_dir: Path
    profiles_dir: Path | None
    target: str | None
    models: tuple[str, ...]
    lane: CaptureSettings | ExportSettings
    window_rows: int | None
    state_schema: str | None
    state_file: Path | None
    reset: bool
    report_path: Path | None
    duckdb_memory_limit: str
    # How far before the events watermark a run looks again for late rows.
    lookback: dt.timedelta = dt.timedelta(days=3)
    shard: Shard = field(default_factory=Shard)

    @property
    def dry_run(self) -> bool:
        return isinstance(self.lane, CaptureSettings) and self.lane.dry_run
