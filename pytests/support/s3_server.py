"""A real S3 API server on 127.0.0.1 for tests and benchmarks: moto in server mode.

Tests use `S3Server` (a thread of the test process) and point boto3 at it with the standard AWS
variables (`env()`), as a user points the loader at AWS, MinIO or R2. Benchmarks run it as a process
of its own so it does not share the loader's interpreter: `python -m moto.server -H 127.0.0.1 -p N`.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

import boto3
from moto.server import ThreadedMotoServer

REGION = "us-east-1"
# moto accepts any credentials; these only have to look like AWS's.
ACCESS_KEY_ID = "AKIATESTEXPORT000001"
SECRET_ACCESS_KEY = "test-secret-key-never-printed-0123456789"


class S3Server:
    def __init__(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.url = ""

    def __enter__(self) -> S3Server:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.stop()

    def env(self) -> dict[str, str]:
        """What a user sets for an S3-compatible store: the standard AWS variables."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            "AWS_REGION": REGION,
        }

    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
            region_name=REGION,
        )

    def create_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name)

    def upload_folder(self, folder: Path, bucket: str, prefix: str = "") -> list[str]:
        """Create `bucket` if needed and copy every file under `folder` to `<prefix>/<relative path>`."""
        client = self.client()
        if bucket not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
            client.create_bucket(Bucket=bucket)
        keys = []
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            relative = path.relative_to(folder).as_posix()
            key = f"{prefix.strip('/')}/{relative}" if prefix.strip("/") else relative
            client.upload_file(str(path), bucket, key)
            keys.append(key)
        return keys
