"""Typed errors of `posthog-migrate-fetch`, each with the exit code a scheduler can alert on."""

from enum import IntEnum


class ExitCode(IntEnum):
    """Documented in docs/fetch.md."""

    OK = 0
    CONFIG = 2
    CREDENTIALS_REFUSED = 3
    SOURCE_UNAVAILABLE = 4
    RANGE_TOO_LARGE = 5
    INTERRUPTED = 130


class FetchError(Exception):
    """Base class; the message is written for the user and says what to do."""

    exit_code: ExitCode = ExitCode.CONFIG


class ConfigError(FetchError):
    """A flag or environment variable is wrong or missing."""

    exit_code = ExitCode.CONFIG


class CredentialsRefusedError(FetchError):
    """The source answered 401/403: the keys are wrong, revoked or lack the permission."""

    exit_code = ExitCode.CREDENTIALS_REFUSED


class SourceUnavailableError(FetchError):
    """The source kept failing after every retry; what was fetched is kept and a re-run resumes."""

    exit_code = ExitCode.SOURCE_UNAVAILABLE


class RangeTooLargeError(FetchError):
    """Even one hour is over the source's size limit: that hour needs another export route."""

    exit_code = ExitCode.RANGE_TOO_LARGE


class InterruptedFetchError(FetchError):
    """The user interrupted the run; completed ranges are recorded and a re-run resumes."""

    exit_code = ExitCode.INTERRUPTED
