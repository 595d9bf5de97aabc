"""Read a contract view's rows from each warehouse in one shape, and say precisely how two reads differ."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import snowflake.connector

from support.dbt_project import DbtProject
from support.emulators import BigQueryEmulator, Fakesnow, RedshiftStandIn
from support.warehouse_project import SNOWFLAKE_DATABASE, TARGET_SCHEMA

CONTRACT_MODELS = ("posthog_aliases", "posthog_persons", "posthog_events")
_COLUMNS = "uuid, event, distinct_id, timestamp, payload, source_name"


@dataclass(frozen=True)
class ContractRow:
    """One row as PostHog receives it: the columns the loader reads, the payload parsed (and as sent)."""

    uuid: str
    event: str
    distinct_id: str
    timestamp: dt.datetime
    payload: dict[str, Any]
    source_name: str
    payload_text: str = field(compare=False, repr=False)


def _row(columns: tuple) -> ContractRow:
    uuid, event, distinct_id, timestamp, payload, source_name = columns
    if timestamp.tzinfo is not None:
        timestamp = timestamp.astimezone(dt.UTC).replace(tzinfo=None)
    return ContractRow(
        uuid, event, distinct_id, timestamp, json.loads(payload), source_name, payload
    )


class WarehouseClient(Protocol):
    """Runs a query in the target schema of one warehouse."""

    def query(self, sql: str) -> list[tuple]: ...


@dataclass(frozen=True)
class DuckDBClient:
    project: DbtProject

    def query(self, sql: str) -> list[tuple]:
        return self.project.query(sql)


@dataclass(frozen=True)
class SnowflakeClient:
    fakesnow: Fakesnow

    def query(self, sql: str) -> list[tuple]:
        arguments = self.fakesnow.connect_arguments(SNOWFLAKE_DATABASE, TARGET_SCHEMA)
        with snowflake.connector.connect(**arguments) as connection, connection.cursor() as cursor:
            return list(cursor.execute(sql).fetchall())


@dataclass(frozen=True)
class BigQueryClient:
    emulator: BigQueryEmulator

    def query(self, sql: str) -> list[tuple]:
        from google.cloud import bigquery

        config = bigquery.QueryJobConfig(default_dataset=f"{self.emulator.project}.{TARGET_SCHEMA}")
        client = self.emulator.client()
        try:
            return [tuple(row.values()) for row in client.query(sql, config).result(timeout=120)]
        finally:
            client.close()


@dataclass(frozen=True)
class RedshiftClient:
    stand_in: RedshiftStandIn
    schema: str = TARGET_SCHEMA

    def query(self, sql: str) -> list[tuple]:
        connection = self.stand_in.connect()
        try:
            cursor = connection.cursor()
            cursor.execute(f"set search_path to {self.schema}")
            cursor.execute(sql)
            return [tuple(row) for row in cursor.fetchall()]
        finally:
            connection.close()


def read_contract(
    client: WarehouseClient, model: str, sources: Iterable[str] | None = None
) -> list[ContractRow]:
    where = ""
    if sources is not None:
        where = " where source_name in (" + ", ".join(f"'{name}'" for name in sources) + ")"
    return [_row(row) for row in client.query(f"select {_COLUMNS} from {model}{where}")]


def by_uuid(rows: Iterable[ContractRow]) -> dict[str, ContractRow]:
    indexed: dict[str, ContractRow] = {}
    for row in rows:
        assert row.uuid not in indexed, f"uuid {row.uuid} occurs twice"
        indexed[row.uuid] = row
    return indexed


def differences(
    expected: list[ContractRow], actual: list[ContractRow], limit: int = 5
) -> list[str]:
    """What differs between two reads of a contract view, row by row and field by field."""
    want, got = by_uuid(expected), by_uuid(actual)
    problems = [f"missing uuid {uuid}: {want[uuid]}" for uuid in sorted(want.keys() - got.keys())]
    problems += [
        f"unexpected uuid {uuid}: {got[uuid]}" for uuid in sorted(got.keys() - want.keys())
    ]
    for uuid in sorted(want.keys() & got.keys()):
        if want[uuid] == got[uuid]:
            continue
        fields = [
            f"{name}: {getattr(want[uuid], name)!r} != {getattr(got[uuid], name)!r}"
            for name in ("event", "distinct_id", "timestamp")
            if getattr(want[uuid], name) != getattr(got[uuid], name)
        ]
        fields += _payload_differences(want[uuid].payload, got[uuid].payload)
        problems.append(f"uuid {uuid}: " + "; ".join(fields))
    if len(problems) > limit:
        problems = [*problems[:limit], f"... and {len(problems) - limit} more"]
    return problems


def _payload_differences(want: dict[str, Any], got: dict[str, Any]) -> list[str]:
    found = []
    for key in sorted(want.keys() | got.keys()):
        if key == "properties":
            continue
        if want.get(key) != got.get(key):
            found.append(f"payload.{key}: {want.get(key)!r} != {got.get(key)!r}")
    want_properties, got_properties = want.get("properties", {}), got.get("properties", {})
    for key in sorted(want_properties.keys() | got_properties.keys()):
        if want_properties.get(key, "<absent>") != got_properties.get(key, "<absent>"):
            found.append(
                f"properties[{key!r}]: {want_properties.get(key, '<absent>')!r}"
                f" != {got_properties.get(key, '<absent>')!r}"
            )
    return found


def pair_number_text_differences(
    expected: list[ContractRow], actual: list[ContractRow]
) -> tuple[list[ContractRow], list[ContractRow], int]:
    """Rows whose uuids differ only because the two warehouses write a number's JSON text differently (DuckDB's
    959.0 is another warehouse's 959): the uuid of a person hashes the text of its properties. Such rows, alike
    in everything but the uuid and a number's text, are paired and left out; returns what remains of both sides
    and how many pairs were found."""
    want, got = by_uuid(expected), by_uuid(actual)
    only_actual = {_sent_but_uuid(got[uuid]): got[uuid] for uuid in got.keys() - want.keys()}
    remaining, paired = [], 0
    for uuid in sorted(want.keys() - got.keys()):
        if only_actual.pop(_sent_but_uuid(want[uuid]), None) is None:
            remaining.append(want[uuid])
        else:
            paired += 1
    kept = sorted(want.keys() & got.keys())
    return (
        [want[uuid] for uuid in kept] + remaining,
        [got[uuid] for uuid in kept] + list(only_actual.values()),
        paired,
    )


def _sent_but_uuid(row: ContractRow) -> tuple[str, str, dt.datetime, str]:
    """What PostHog receives for a row, but its uuid, numbers compared by value."""
    return (
        row.event,
        row.distinct_id,
        row.timestamp,
        _numbers_by_value(row.payload_text.replace(row.uuid, "", 1)),
    )


def same_text_but_numbers(first: str, second: str) -> bool:
    """Whether two JSON texts hold the same keys in the same order and the same values, numbers compared by
    value (959.0 and 959, 263.6 and 263.60 alike)."""
    return _numbers_by_value(first) == _numbers_by_value(second)


def _numbers_by_value(text: str) -> str:
    def number(literal: str) -> int | float:
        value = float(literal)
        return int(value) if value.is_integer() else value

    parsed = json.loads(text, parse_float=number, parse_int=number)
    return json.dumps(parsed, ensure_ascii=False, separators=(",", ":"))
