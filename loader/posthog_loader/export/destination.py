"""Where an export's files go: a local folder, or an S3 bucket and prefix (AWS or any S3-compatible
store). Both make a file visible only once it is whole: a folder writes a hidden temporary file and
renames it; S3 shows an object only when its upload (multipart for large ones) completes.

S3 is reached through boto3 with AWS's own configuration: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_SESSION_TOKEN, AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, instance and SSO credentials. The
loader never reads, prints or stores a credential itself.
"""

from __future__ import annotations

import base64
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

from posthog_loader.errors import ConfigError, DestinationUnavailableError

_S3_URL = re.compile(r"^s3://(?P<bucket>[^/]+)/?(?P<prefix>.*)$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
# boto3 uploads larger objects in parts of this size; none is visible until all are in.
MULTIPART_BYTES = 16 * 1024 * 1024
_TEMPORARY = ".partial-"


@dataclass(frozen=True)
class DestinationSpec:
    """--to, checked: an S3 bucket and prefix, or a local folder."""

    bucket: str | None = None
    prefix: str = ""
    folder: Path | None = None

    @property
    def url(self) -> str:
        if self.folder is not None:
            return str(self.folder)
        return f"s3://{self.bucket}/{self.prefix}"


def parse_destination(text: str) -> DestinationSpec:
    text = text.strip()
    if not text:
        raise ConfigError("--to is empty: give a folder, or s3://bucket/prefix.")
    if "://" not in text:
        return DestinationSpec(folder=Path(text).expanduser().resolve())
    match = _S3_URL.match(text)
    if match is None:
        raise ConfigError(
            f"--to {text!r}: expected a local folder or s3://bucket/prefix (PostHog's managed "
            "import reads S3 or S3-compatible storage)."
        )
    bucket, prefix = match.group("bucket"), match.group("prefix").strip("/")
    if not _BUCKET.match(bucket):
        raise ConfigError(f"--to {text!r}: {bucket!r} is not a valid S3 bucket name.")
    return DestinationSpec(bucket=bucket, prefix=f"{prefix}/" if prefix else "")


class Destination(ABC):
    """Files under one root, named by keys relative to it (`1-aliases/…`)."""

    url: str

    @abstractmethod
    def location(self, key: str) -> str:
        """Where `key` is, for people: a path or an s3:// URL."""

    @abstractmethod
    def put(self, key: str, data: bytes, sha256: bytes | None = None) -> None:
        """Store `data` under `key`, visible only once whole; `sha256` (of `data`) lets the store
        check what it received."""

    @abstractmethod
    def get(self, key: str) -> bytes | None: ...

    @abstractmethod
    def keys(self, under: str) -> list[str]:
        """Every key starting with `under`, in lexicographic order."""

    @abstractmethod
    def delete(self, keys: Iterable[str]) -> None: ...

    def close(self) -> None:
        return None


class FolderDestination(Destination):
    def __init__(self, folder: Path) -> None:
        self._root = folder
        self.url = str(folder)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ConfigError(f"--to {folder}: cannot create the folder ({error}).") from None

    def location(self, key: str) -> str:
        return str(self._root / key)

    def put(self, key: str, data: bytes, sha256: bytes | None = None) -> None:
        path = self._root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        # Hidden, and not ending in .gz: nothing that lists parts ever takes it for one.
        temporary = path.with_name(f"{_TEMPORARY}{path.name}.{os.getpid()}")
        try:
            with open(temporary, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except OSError as error:
            temporary.unlink(missing_ok=True)
            raise DestinationUnavailableError(
                f"Could not write {path}: {error}. The checkpoint stops before this file: re-run "
                "the same command to resume."
            ) from None

    def get(self, key: str) -> bytes | None:
        path = self._root / key
        return path.read_bytes() if path.is_file() else None

    def keys(self, under: str) -> list[str]:
        base = self._root / under
        if not base.is_dir():
            return []
        return sorted(
            path.relative_to(self._root).as_posix()
            for path in base.rglob("*")
            if path.is_file() and not path.name.startswith(_TEMPORARY)
        )

    def delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            (self._root / key).unlink(missing_ok=True)


class S3Destination(Destination):
    def __init__(self, bucket: str, prefix: str, client: Any) -> None:
        from boto3.s3.transfer import TransferConfig

        self._bucket = bucket
        self._prefix = prefix
        self._client = client
        self._transfer = TransferConfig(
            multipart_threshold=MULTIPART_BYTES, multipart_chunksize=MULTIPART_BYTES
        )
        self.url = f"s3://{bucket}/{prefix}"

    @classmethod
    def open(cls, spec: DestinationSpec) -> S3Destination:
        """A client from AWS's own configuration, checked by listing the prefix once."""
        import boto3
        from botocore.config import Config

        assert spec.bucket is not None
        # Retries are botocore's (its standard mode unless AWS_RETRY_MODE says otherwise).
        config = Config(retries={"mode": os.environ.get("AWS_RETRY_MODE", "standard")})
        destination = cls(spec.bucket, spec.prefix, boto3.client("s3", config=config))
        destination.keys("")
        return destination

    def location(self, key: str) -> str:
        return f"s3://{self._bucket}/{self._prefix}{key}"

    def _call(self, action: str, key: str, function: Any, *args: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        where = self.location(key)
        try:
            return function(*args, **kwargs)
        except NoCredentialsError:
            raise ConfigError(
                f"No AWS credentials to {action} {where}. Set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary ones), or AWS_PROFILE, "
                "or run where an instance role applies."
            ) from None
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code in (
                "NoSuchBucket",
                "AccessDenied",
                "InvalidAccessKeyId",
                "SignatureDoesNotMatch",
            ):
                raise ConfigError(
                    f"S3 refused to {action} {where}: {code}. Check the bucket name, its region "
                    "(AWS_REGION), the credentials, and that they may list, read, write and "
                    "delete under the prefix."
                ) from None
            raise DestinationUnavailableError(
                f"S3 failed to {action} {where}: {code or status} after botocore's retries. The "
                "checkpoint stops before this file: re-run the same command to resume."
            ) from None
        except BotoCoreError as error:
            raise DestinationUnavailableError(
                f"Could not {action} {where}: {type(error).__name__}: {error}. Check "
                "AWS_ENDPOINT_URL and the network; re-run the same command to resume."
            ) from None

    def put(self, key: str, data: bytes, sha256: bytes | None = None) -> None:
        extra: dict[str, str] = {}
        if sha256 is not None and len(data) < MULTIPART_BYTES:
            # Checked by S3 against what arrives; multipart uploads checksum each part instead.
            extra["ChecksumSHA256"] = base64.b64encode(sha256).decode()
        if len(data) < MULTIPART_BYTES:
            self._call(
                "write",
                key,
                self._client.put_object,
                Bucket=self._bucket,
                Key=self._prefix + key,
                Body=data,
                **extra,
            )
            return
        self._call(
            "write",
            key,
            self._client.upload_fileobj,
            BytesIO(data),
            self._bucket,
            self._prefix + key,
            Config=self._transfer,
        )

    def get(self, key: str) -> bytes | None:
        from botocore.exceptions import ClientError

        def read() -> bytes | None:
            try:
                response = self._client.get_object(Bucket=self._bucket, Key=self._prefix + key)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                    return None
                raise
            return response["Body"].read()

        return self._call("read", key, read)

    def keys(self, under: str) -> list[str]:
        paginator = self._client.get_paginator("list_objects_v2")
        pages = self._call(
            "list",
            under,
            lambda: list(paginator.paginate(Bucket=self._bucket, Prefix=self._prefix + under)),
        )
        start = len(self._prefix)
        return sorted(item["Key"][start:] for page in pages for item in page.get("Contents", []))

    def delete(self, keys: Iterable[str]) -> None:
        batch = [{"Key": self._prefix + key} for key in keys]
        for start in range(0, len(batch), 1000):
            self._call(
                "delete",
                "",
                self._client.delete_objects,
                Bucket=self._bucket,
                Delete={"Objects": batch[start : start + 1000], "Quiet": True},
            )


def open_destination(spec: DestinationSpec) -> Destination:
    if spec.folder is not None:
        return FolderDestination(spec.folder)
    return S3Destination.open(spec)
