"""The project's uuids, derived independently of the SQL (DECISIONLOG: Event uuids are UUIDv8 of an md5)."""

from __future__ import annotations

import hashlib
import uuid


def md5_uuid(key: str, version: int = 8) -> str:
    """md5 of `key` in UUID layout: version `version`, RFC 4122 variant."""
    raw = bytearray(hashlib.md5(key.encode()).digest())
    raw[6] = (raw[6] & 0x0F) | (version << 4)
    raw[8] = (raw[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(raw)))
