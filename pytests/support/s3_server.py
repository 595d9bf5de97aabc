"""A real S3 API on 127.0.0.1 for tests: moto's server mode (`moto_server -H 127.0.0.1 -p PORT`), as a child process.

Clients reach it the way a user's code reaches S3, through the AWS conventions: `aws_environment()` gives the
AWS_* variables (any key works; AWS_ENDPOINT_URL points at the server), so boto3 and DuckDB's httpfs (through
posthog_migrate_files.s3) read the same way they would read AWS. Start it with `S3Server.create(log_dir)` and
`with server.emulator.running():`; every bucket lives in the server's memory and goes with it.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from support.emulators import HOST, Emulator, EmulatorError, _answers_http, free_port

ACCESS_KEY_ID = "AKIAPOSTHOGMIGRATETEST"
SECRET_ACCESS_KEY = "posthog-migrate-test-secret-8b1a9953c4611296"
REGION = "us-east-1"


@dataclass
class S3Server:
    emulator: Emulator
    port: int

    @classmethod
    def create(cls, log_dir: Path) -> S3Server:
        executable = shutil.which("moto_server")
        if executable is None:
            raise EmulatorError("moto_server is missing: `make setup` installs moto[server].")
        port = free_port()
        emulator = Emulator(
            name="moto_server",
            command=[executable, "-H", HOST, "-p", str(port)],
            log_path=log_dir / "moto_server.log",
            failure_pattern=re.compile(r"Traceback \(most recent call last\)"),
            is_ready=_answers_http(f"http://{HOST}:{port}/moto-api/"),
        )
        return cls(emulator, port)

    @property
    def endpoint_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def aws_environment(self) -> dict[str, str]:
        """What a user would export to reach this S3 (the AWS CLI, boto3 and posthog-migrate read these)."""
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            # never a profile or instance role from the machine running the tests
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def client(self):  # -> botocore S3 client
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
            region_name=REGION,
        )

    def upload_folder(self, folder: Path, bucket: str, prefix: str = "") -> list[str]:
        """Create `bucket` (if needed) and copy every file under `folder` to `prefix/<relative path>`."""
        client = self.client()
        if bucket not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
            client.create_bucket(Bucket=bucket)
        keys = []
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            key = "/".join(
                part for part in (prefix.strip("/"), path.relative_to(folder).as_posix()) if part
            )
            client.upload_file(str(path), bucket, key)
            keys.append(key)
        return keys
