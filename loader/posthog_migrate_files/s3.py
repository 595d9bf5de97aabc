"""A DuckDB secret for S3 from the AWS conventions, so `s3://` paths read the way the AWS CLI would.

botocore resolves the credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, AWS_PROFILE and
the shared config and credentials files, SSO, container and instance roles), the region (AWS_REGION,
AWS_DEFAULT_REGION, the profile) and a custom endpoint (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, or the profile's
endpoint_url: MinIO, a local S3). The values go straight into DuckDB's secret manager, which never shows them
(duckdb_secrets() redacts); they are never logged, and errors never quote them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import urlsplit

import botocore.session
import duckdb

SECRET_NAME = "posthog_migrate_s3"


@dataclass(frozen=True)
class S3Settings:
    key_id: str | None
    secret: str | None
    session_token: str | None
    region: str | None
    endpoint_url: str | None

    def __repr__(self) -> str:
        return (
            f"S3Settings(region={self.region!r}, endpoint_url={self.endpoint_url!r}, keys=<hidden>)"
        )


def s3_settings_from_aws_conventions() -> S3Settings:
    session = botocore.session.get_session()
    credentials = session.get_credentials()
    frozen = credentials.get_frozen_credentials() if credentials is not None else None
    endpoint_url = _configured_endpoint(session)
    return S3Settings(
        key_id=frozen.access_key if frozen else None,
        secret=frozen.secret_key if frozen else None,
        session_token=frozen.token if frozen else None,
        region=session.get_config_variable("region"),
        endpoint_url=endpoint_url,
    )


def _configured_endpoint(session: botocore.session.Session) -> str | None:
    """The endpoint an S3 client of this session would use, when it is not AWS's own."""
    client = session.create_client(
        "s3", region_name=session.get_config_variable("region") or "us-east-1"
    )
    url = client.meta.endpoint_url
    host = urlsplit(url).hostname or ""
    return None if host.endswith(".amazonaws.com") else url


def secret_sql(settings: S3Settings) -> str:
    options = {"TYPE": "s3"}
    if settings.key_id and settings.secret:
        options |= {"KEY_ID": settings.key_id, "SECRET": settings.secret}
        if settings.session_token:
            options["SESSION_TOKEN"] = settings.session_token
    if settings.region:
        options["REGION"] = settings.region
    if settings.endpoint_url:
        endpoint = urlsplit(settings.endpoint_url)
        # A custom endpoint (MinIO, a local S3) serves buckets as paths, not as host names.
        options |= {
            "ENDPOINT": endpoint.netloc + endpoint.path.rstrip("/"),
            "USE_SSL": "true" if endpoint.scheme == "https" else "false",
            "URL_STYLE": "path",
        }
    rendered = ", ".join(
        f"{key} {value}" if key in ("TYPE", "USE_SSL") else f"{key} '{_quoted(value)}'"
        for key, value in options.items()
    )
    return f"create or replace secret {SECRET_NAME} ({rendered})"


def _quoted(value: str) -> str:
    return value.replace("'", "''")


def create_s3_secret(connection: duckdb.DuckDBPyConnection) -> None:
    try:
        connection.execute(secret_sql(s3_settings_from_aws_conventions()))
    except duckdb.Error as exc:
        # DuckDB's message names the option, never the value; the SQL (which holds the keys) is not shown.
        raise RuntimeError(f"Could not create the DuckDB S3 secret: {type(exc).__name__}") from None


def prepare_connection(connection: duckdb.DuckDBPyConnection, *paths: str) -> None:
    """Extensions loaded (also without the profile's plugin), and the S3 secret when a path is on S3."""
    from posthog_migrate_files.extensions import load_extensions

    load_extensions(connection)
    if any(path.startswith("s3://") for path in paths):
        create_s3_secret(connection)


def open_stream(path: str) -> BinaryIO:
    """A local file or an `s3://` object as a stream (read once, front to back; never whole in memory)."""
    if not path.startswith("s3://"):
        return open(path, "rb")
    parts = urlsplit(path)
    session = botocore.session.get_session()
    client = session.create_client(
        "s3", region_name=session.get_config_variable("region") or "us-east-1"
    )
    return client.get_object(Bucket=parts.netloc, Key=parts.path.lstrip("/"))["Body"]
