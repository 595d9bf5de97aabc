"""The body of one capture `/batch/` request: `{"api_key":…,"historical_migration":…,"batch":[…]}`,
spliced from the payload bytes exactly as the warehouse made them, and where each event sits in it
(so a refused request can be split without keeping the rows)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from posthog_loader.rows import QuarantinedRow, may_hold_refused_number, split_malformed

# Room kept in --batch-bytes for {"api_key":...,"historical_migration":...,"batch":[...]}.
ENVELOPE_BYTES = 256
BODY_END = b"]}"


def body_header(api_key_json: bytes, historical: bool) -> bytes:
    """The /batch/ body up to its first event."""
    flag = b"true" if historical else b"false"
    return b'{"api_key":' + api_key_json + b',"historical_migration":' + flag + b',"batch":['


def render_body(payloads: pa.ChunkedArray | pa.Array, header: bytes) -> bytes:
    """The /batch/ body, spliced from the payload bytes exactly as the warehouse made them."""
    return header + b",".join(payloads.cast(pa.binary()).to_pylist()) + BODY_END


@dataclass(frozen=True)
class BodyLayout:
    """Where each event sits in a request body, so the body can be split without keeping rows."""

    header: bytes
    starts: np.ndarray
    lengths: np.ndarray

    @classmethod
    def of(cls, payloads: pa.ChunkedArray | pa.Array, header: bytes) -> BodyLayout:
        lengths = np.asarray(pc.binary_length(payloads), dtype=np.int64)
        # Each payload is followed by a comma, the last by BODY_END.
        starts = len(header) + np.concatenate(([0], np.cumsum(lengths[:-1] + 1)))
        return cls(header, starts, lengths)

    def payload(self, body: bytes, index: int) -> str:
        start = int(self.starts[index])
        return body[start : start + int(self.lengths[index])].decode()

    def cut(self, body: bytes, start: int, stop: int) -> tuple[bytes, BodyLayout]:
        """The body of events [start, stop) alone, and its layout: a slice, nothing re-rendered."""
        first = int(self.starts[start])
        last = int(self.starts[stop - 1] + self.lengths[stop - 1])
        part = self.header + body[first:last] + BODY_END
        starts = self.starts[start:stop] - first + len(self.header)
        return part, BodyLayout(self.header, starts, self.lengths[start:stop])


class _Event(msgspec.Struct):
    pass


class _Body(msgspec.Struct):
    batch: list[_Event]


# Strict JSON, as PostHog's serde_json: no NaN, no trailing commas, no lone surrogates.
_decode_body = msgspec.json.Decoder(_Body).decode


@dataclass(frozen=True)
class CheckedBody:
    """A request body ready to send (None when no row was valid), the rows it holds, and the
    rows quarantined while building it."""

    body: bytes | None
    layout: BodyLayout | None
    rows: pa.Table
    quarantined: list[QuarantinedRow]


def build_body(rows: pa.Table, header: bytes) -> CheckedBody:
    """Render the request and check it parses as exactly these events, one object per payload.

    Splicing raw payloads is only safe if each is one well-formed object: a malformed one would fail
    the whole request, and one holding `{...},{...}` would smuggle in an extra event. The check runs
    once over the whole body; only when it fails are payloads checked one by one and the bad ones
    quarantined.
    """
    if not rows.num_rows:  # every row of the batch was quarantined locally
        return CheckedBody(None, None, rows, [])
    body = render_body(rows.column("payload"), header)
    with contextlib.suppress(msgspec.DecodeError):
        if len(_decode_body(body).batch) == rows.num_rows and not may_hold_refused_number(body):
            return CheckedBody(body, BodyLayout.of(rows.column("payload"), header), rows, [])
    good, quarantined = split_malformed(rows)
    if not good.num_rows:
        return CheckedBody(None, None, good, quarantined)
    payloads = good.column("payload")
    return CheckedBody(
        render_body(payloads, header), BodyLayout.of(payloads, header), good, quarantined
    )
