"""A fake PostHog on 127.0.0.1 for tests and benchmarks: a real HTTP server that enforces capture's
rules for /batch/ (capture.py), keeps what it accepts (store.py), injects faults (faults.py) and
answers the query API from what it keeps (query_api.py).

    with CaptureServer(["phc_test"]) as posthog:
        posthog.inject(Fault.respond(503))          # the next request
        posthog.fault_hook = FaultPlan([(0.1, Fault.respond(503))], seed=1)  # at random
        ... load into posthog.url ...
        posthog.uuids(), posthog.deduplicated(), posthog.requests

Standalone, for benchmarks (from pytests/): python -m support.fake_posthog --port 8123 --token phc_x
(see __main__.py; faults and stats over HTTP at /_admin/faults and /_admin/stats).
"""

from support.fake_posthog.capture import (
    BATCH_BODY_LIMIT,
    DISTINCT_ID_MAX_CHARS,
    EVENT_SIZE_LIMIT,
    CaptureRules,
    Rejected,
)
from support.fake_posthog.faults import Fault, FaultPlan
from support.fake_posthog.http import HttpRequest, HttpResponse
from support.fake_posthog.query_api import QueryApi, QueryShape
from support.fake_posthog.server import CaptureServer
from support.fake_posthog.store import (
    IngestionWarning,
    ReceivedEvent,
    ReceivedRequest,
    effective_timestamp,
)

__all__ = [
    "BATCH_BODY_LIMIT",
    "DISTINCT_ID_MAX_CHARS",
    "EVENT_SIZE_LIMIT",
    "CaptureRules",
    "CaptureServer",
    "Fault",
    "FaultPlan",
    "HttpRequest",
    "HttpResponse",
    "IngestionWarning",
    "QueryApi",
    "QueryShape",
    "ReceivedEvent",
    "ReceivedRequest",
    "Rejected",
    "effective_timestamp",
]
