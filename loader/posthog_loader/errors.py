"""Typed errors: every failure the user can act on, each mapped to a documented exit code."""

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes; documented in docs/loader.md so schedulers can alert on them."""

    OK = 0
    UNDELIVERED = 1
    CONFIG = 2
    TOKEN_REFUSED = 3
    POSTHOG_UNAVAILABLE = 4
    WAREHOUSE = 5
    # `load-posthog verify`: PostHog's counts differ from the warehouse's beyond --tolerance.
    COUNTS_DIFFER = 6
    # A local file (--state-file and its companions, --report) could not be written: disk full.
    LOCAL_WRITE = 7
    # Another run holds the lease on this state (same target, model and shard).
    LEASE_HELD = 8
    # `load-posthog export`: the destination (folder, S3) could not be written; re-run resumes.
    DESTINATION_UNAVAILABLE = 9
    # A bug in the loader itself (EX_SOFTWARE); the checkpoint is still safe.
    INTERNAL = 70
    INTERRUPTED = 130


class LoaderError(Exception):
    """Base class; the message is written for the user and says what to fix."""

    exit_code: ExitCode = ExitCode.CONFIG


class ConfigError(LoaderError):
    """A flag, environment variable, dbt project or profile setting is wrong."""

    exit_code = ExitCode.CONFIG


class WarehouseError(LoaderError):
    """The warehouse could not be reached or queried."""

    exit_code = ExitCode.WAREHOUSE


class NotBuiltError(WarehouseError):
    """The dbt manifest or a contract view is missing: dbt has not built this target yet."""


class WindowTooLargeError(WarehouseError):
    """A read window did not fit the warehouse's memory before any row was read; smaller
    windows may."""


class TokenRefusedError(LoaderError):
    """PostHog answered 401/403: the project token is wrong or revoked."""

    exit_code = ExitCode.TOKEN_REFUSED


class PostHogUnavailableError(LoaderError):
    """PostHog could not be reached or kept failing; the checkpoint is safe, re-run to resume."""

    exit_code = ExitCode.POSTHOG_UNAVAILABLE


class DestinationUnavailableError(LoaderError):
    """An export's folder or bucket could not be written; the checkpoint is safe, re-run."""

    exit_code = ExitCode.DESTINATION_UNAVAILABLE


class EndpointBrokenError(PostHogUnavailableError):
    """PostHog refused requests for unrelated rows and accepted none: the endpoint (a proxy, a
    wrong port, an outage) is failing, not the rows. Nothing of that episode was quarantined."""


class LocalWriteError(LoaderError):
    """A local file could not be written (disk full, read-only); the checkpoint on disk is intact,
    so a re-run once there is room resumes."""

    exit_code = ExitCode.LOCAL_WRITE


class LeaseHeldError(LoaderError):
    """Another run is loading the same models and shard into the same state (or its lease has not
    expired yet)."""

    exit_code = ExitCode.LEASE_HELD


class InterruptedLoadError(LoaderError):
    """The user interrupted the run (SIGINT/SIGTERM); the checkpoint was saved."""

    exit_code = ExitCode.INTERRUPTED
