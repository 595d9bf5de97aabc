"""PostHog's ingestion warnings: what its ingestion refused or changed after capture (or the managed
import) had accepted an event, read from `system.ingestion_warnings` through HogQL.

Capture answers 200 before ingestion runs, so an event with a timestamp PostHog cannot use, an
identity merge it refuses, or an event too large for Kafka shows up only here. One query, grouped by
warning type, covers the whole window (the query API is rate limited). A warning is stamped when
ingestion raised it, not with the event's own (historical) time: the window is when the import ran.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from posthog_loader.errors import PostHogUnavailableError
from posthog_loader.verify.hogql import HogQLClient

# Warning types seen in one window; PostHog has a few dozen in all.
TYPE_LIMIT = 1000
_EXAMPLE_CHARS = 300
_EPOCH = dt.datetime(1970, 1, 1)
COLUMNS = ["type", "warnings", "events", "first_seen", "last_seen", "example"]

# What a warning means for the imported data, for the types an import meets.
MEANINGS = {
    "invalid_event_timestamp": "timestamp unusable: PostHog stored the ingestion time instead",
    "event_timestamp_in_future": "timestamp in the future: PostHog stored the ingestion time",
    "ignored_invalid_timestamp": "timestamp unusable and ignored",
    "cannot_merge_already_identified": "identity merge refused: both persons already identified",
    "cannot_merge_with_illegal_distinct_id": "identity merge refused: an illegal distinct id",
    "cannot_merge_with_distinct_id_too_large": "identity merge refused: distinct id too long",
    "distinct_id_too_large": "distinct id too long: event dropped",
    "missing_distinct_id": "no distinct id: event dropped",
    "duplicate_event_uuid": "uuid sent twice in one batch: the repeat was dropped",
    "message_size_too_large": "event too large for PostHog's Kafka: dropped",
    "event_dropped_too_large": "event too large: dropped",
    "invalid_process_person_profile": "$process_person_profile not a boolean: ignored",
    "person_properties_size_violation": "person properties too large: update dropped",
    "invalid_heatmap_data": "heatmap data unusable: dropped",
}


@dataclass(frozen=True)
class WarningCount:
    type: str
    warnings: int
    # Distinct events the warnings name (details.eventUuid), 0 when they name none.
    events: int
    first_seen: str
    last_seen: str
    example: str

    @property
    def meaning(self) -> str:
        return MEANINGS.get(self.type, "see PostHog's ingestion warnings page")

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "meaning": self.meaning,
            "warnings": self.warnings,
            "events": self.events,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "example": self.example,
        }


def warnings_query(since: dt.datetime, limit: int = TYPE_LIMIT) -> str:
    """Warnings raised at or after `since` (UTC), per type, with one example's details."""
    seconds = int((since - _EPOCH).total_seconds())
    return (
        "SELECT type, count() AS warnings,"
        " uniqExactIf(JSONExtractString(details, 'eventUuid'),"
        " JSONExtractString(details, 'eventUuid') != '') AS events,"
        " min(timestamp) AS first_seen, max(timestamp) AS last_seen, any(details) AS example\n"
        "FROM system.ingestion_warnings\n"
        f"WHERE timestamp >= fromUnixTimestamp({seconds})\n"
        "GROUP BY type\n"
        "ORDER BY warnings DESC, type\n"
        f"LIMIT {limit}"
    )


def ingestion_warnings(client: HogQLClient, since: dt.datetime) -> list[WarningCount]:
    result = client.query(warnings_query(since), purpose="ingestion warnings")
    if not set(COLUMNS) <= set(result.columns):
        raise PostHogUnavailableError(
            f"PostHog answered the ingestion warnings query with columns {result.columns}, not "
            f"{COLUMNS}."
        )
    positions = [result.columns.index(column) for column in COLUMNS]
    counts = []
    for row in result.rows:
        kind, warnings, events, first, last, example = (row[index] for index in positions)
        counts.append(
            WarningCount(
                str(kind),
                int(warnings),
                int(events),
                str(first),
                str(last),
                str(example)[:_EXAMPLE_CHARS],
            )
        )
    return counts
