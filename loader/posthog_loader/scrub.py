"""Secrets never leave the process: every message that does (errors on stderr, progress lines, the
JSON report, quarantine details written to state) goes through one Scrubber first.

It replaces the values it was told about (the project and personal API keys, the secret settings
of the dbt profile's target) with placeholders, any PostHog key it sees (an answer echoing a
request may quote another one), and the credentials of any URL (`https://user:pass@host`).
"""

import re
from collections.abc import Mapping
from typing import Any

# PostHog project (phc_) and personal (phx_) keys, also ones the loader was never given.
_POSTHOG_KEY = re.compile(r"(?<![A-Za-z0-9])ph[cx]_[A-Za-z0-9_\-]{8,}")
_URL_CREDENTIALS = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.\-]*://)[^/\s@'\"]+@")
# dbt profile settings that hold secrets (private_key_path and keyfile are paths, not secrets; `pass` is
# dbt-redshift's alias of password).
_SECRET_SETTING = re.compile(
    r"password|^pass$|passphrase|secret|token|private_key$|private_key_content|keyfile_json|credentials",
    re.IGNORECASE,
)
# Shorter values would blank out ordinary words; no real key or password is this short.
_MIN_SECRET_CHARS = 4


class Scrubber:
    def __init__(self) -> None:
        # (value, placeholder), longest value first so a secret containing another is replaced
        # whole.
        self._secrets: list[tuple[str, str]] = []

    def add(self, value: str | None, placeholder: str) -> None:
        if value and len(value) >= _MIN_SECRET_CHARS and value not in dict(self._secrets):
            self._secrets.append((value, placeholder))
            self._secrets.sort(key=lambda secret: -len(secret[0]))

    def add_profile_secrets(self, settings: Mapping[str, Any], where: str) -> None:
        """The values of a rendered dbt target's secret settings (nested ones too)."""
        for key, value in settings.items():
            if isinstance(value, Mapping):
                self.add_profile_secrets(value, f"{where}.{key}")
            elif isinstance(value, str) and _SECRET_SETTING.search(str(key)):
                self.add(value, f"<{where}.{key}>")

    def __call__(self, text: str) -> str:
        for value, placeholder in self._secrets:
            text = text.replace(value, placeholder)
        text = _POSTHOG_KEY.sub(lambda match: f"{match.group()[:4]}<redacted>", text)
        return _URL_CREDENTIALS.sub(r"\g<scheme><credentials>@", text)

    def data(self, value: Any) -> Any:
        """A JSON-like value with every string in it scrubbed."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, Mapping):
            return {key: self.data(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(item) for item in value]
        return value
