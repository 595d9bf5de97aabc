"""What PostHog's managed import makes of an export, re-implemented for the tests from PostHog/posthog
`rust/batch-import-worker` (facts only, no code):

- the S3 source (`source/s3_gzip.rs`) lists every key under the prefix with ListObjectsV2
  (lexicographic order), keeps those ending in `.gz`, and the job imports them one part after the
  other in that order (`job/model.rs`: "parts are sorted ... oldest to newest");
- `parse/format.rs`: JSON lines, split on `\\n`, every line parsed strictly (a line that is not
  UTF-8 or not JSON fails the whole chunk and pauses the job);
- `parse/content/captured.rs` with `common/types` `RawEvent`: `event` a string (required),
  `distinct_id`/`$distinct_id` any JSON value (else `properties.distinct_id`; null or "" fails the
  chunk: "No distinct_id found"), `uuid` a UUID or "" (kept when given), `properties` an object,
  `timestamp` a string, `$set`/`$set_once` objects; it adds `properties.$import_job_id`, sets
  `$geoip_disable: true`, and turns a string `organization_id` property into a number;
- its capture sink then sends each event to capture, which refuses an empty event name.
"""

from __future__ import annotations

import gzip
import uuid as uuid_module
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson


class ImportPaused(Exception):
    """What pauses a real managed-import job: the part and line that would stop it."""


@dataclass(frozen=True)
class ImportedEvent:
    key: str
    line: int
    uuid: str
    event: str
    distinct_id: str
    timestamp: str | None
    properties: dict[str, Any]


def _distinct_id(raw: dict[str, Any]) -> str | None:
    value = raw.get("distinct_id", raw.get("$distinct_id"))
    if value is None:
        value = (raw.get("properties") or {}).get("distinct_id")
    if value is None or value == "":
        return None
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return text[:200]


def _organization_id(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    for parse in (int, float):
        try:
            return parse(value)
        except ValueError:
            continue
    return value


def parse_line(key: str, number: int, line: bytes, job_id: str) -> ImportedEvent:
    where = f"{key} line {number}"
    try:
        raw = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        raise ImportPaused(f"{where}: not JSON ({error})") from None
    if not isinstance(raw, dict):
        raise ImportPaused(f"{where}: not a JSON object")
    event = raw.get("event")
    if not isinstance(event, str):
        raise ImportPaused(f"{where}: `event` is missing or not a string")
    properties = raw.get("properties", {})
    if not isinstance(properties, dict):
        raise ImportPaused(f"{where}: `properties` is not an object")
    for field in ("$set", "$set_once"):
        if raw.get(field) is not None and not isinstance(raw[field], dict):
            raise ImportPaused(f"{where}: `{field}` is not an object")
    timestamp = raw.get("timestamp")
    if timestamp is not None and not isinstance(timestamp, str):
        raise ImportPaused(f"{where}: `timestamp` is not a string")
    given = raw.get("uuid")
    if given in (None, ""):
        event_uuid = str(uuid_module.uuid4())
    else:
        try:
            event_uuid = str(uuid_module.UUID(str(given)))
        except ValueError:
            raise ImportPaused(f"{where}: uuid {given!r} is not a UUID") from None
    distinct_id = _distinct_id(raw)
    if distinct_id is None:
        raise ImportPaused(f"{where}: No distinct_id found")
    if not event:
        raise ImportPaused(f"{where}: capture refuses an empty event name")
    properties = dict(properties)
    if "organization_id" in properties:
        properties["organization_id"] = _organization_id(properties["organization_id"])
    properties["$import_job_id"] = job_id
    properties["$geoip_disable"] = True
    return ImportedEvent(key, number, event_uuid, event, distinct_id, timestamp, properties)


def import_parts(
    keys: Iterable[str], read: Callable[[str], bytes], job_id: str = "job-1"
) -> list[ImportedEvent]:
    """Every event, in the order PostHog ingests them."""
    events = []
    for key in sorted(keys, key=lambda key: key.encode()):  # ListObjectsV2: UTF-8 byte order
        if not key.endswith(".gz"):
            continue
        text = gzip.decompress(read(key))
        for number, line in enumerate(text.split(b"\n"), start=1):
            if not line.strip():
                continue
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                raise ImportPaused(f"{key} line {number}: not UTF-8") from None
            events.append(parse_line(key, number, line, job_id))
    return events
