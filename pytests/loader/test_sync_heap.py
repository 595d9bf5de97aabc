"""A Heap source that changes between nightly runs, built by the real dbt CLI and loaded three times
into the capture server.

Run 1 loads the sample. Before run 2: new pageviews after the watermark, and late ones inside the
look-back window. Before run 3: Heap merges an anonymous user who had events in both (Heap rewrites
their user_id in every table; the events keep their uuids, PostHog already has them) into an
identified one, and another user's properties change. Then PostHog, deduplicated by its own key
(uuid, event, UTC day, distinct_id), must hold each event exactly once; the new identity link must
arrive; only the changed person may be sent again.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

import pytest
from click.testing import Result
from typer.testing import CliRunner

from loader.conftest import PERSONAL_KEY, PROJECT_ID, TOKEN
from posthog_loader.cli import app
from support.dbt_project import DbtProject
from support.fake_posthog import CaptureServer, ReceivedEvent

pytestmark = pytest.mark.slow

HEAP = "heap_main_production"
# Event tables Heap rewrites when it merges a user, plus sessions.
USER_TABLES_SQL = (
    "select table_name from information_schema.columns where table_schema = ? and"
    " column_name = 'user_id' and table_name not in ('users', 'user_migrations')"
)
NOT_EVENTS = {"$create_alias", "$set"}


@dataclass(frozen=True)
class Row:
    event: str
    distinct_id: str
    timestamp: dt.datetime


# model → uuid → row, as the contract views hold them.
Snapshot = dict[str, dict[str, Row]]


def snapshot(project: DbtProject) -> Snapshot:
    return {
        model: {
            uuid: Row(event, distinct_id, timestamp)
            for uuid, event, distinct_id, timestamp in project.query(
                f"select uuid, event, distinct_id, timestamp from posthog_{model}"
            )
        }
        for model in ("aliases", "persons", "events")
    }


@dataclass
class Scenario:
    project: DbtProject
    capture: CaptureServer
    snapshots: list[Snapshot] = field(default_factory=list)
    # Events PostHog received in each load, and the exit code of each.
    received: list[list[ReceivedEvent]] = field(default_factory=list)
    exit_codes: list[int] = field(default_factory=list)
    merged_user: int = 0
    merged_into: str = ""
    changed_person: str = ""
    added_events: int = 0
    verify: Result | None = None

    def env(self) -> dict[str, str]:
        return {
            "DBT_PROFILES_DIR": str(self.project.root),
            "DUCKDB_PATH": str(self.project.duckdb_path),
            "POSTHOG_API_KEY": TOKEN,
            "POSTHOG_HOST": self.capture.url,
            "POSTHOG_PERSONAL_API_KEY": PERSONAL_KEY,
            "POSTHOG_PROJECT_ID": PROJECT_ID,
            "POSTHOG_API_HOST": self.capture.url,
        }

    def invoke(self, *args: str) -> Result:
        return CliRunner().invoke(app, list(args), env=self.env(), catch_exceptions=False)

    def load(self) -> None:
        self.snapshots.append(snapshot(self.project))
        before = len(self.capture.events)
        result = self.invoke("--project-dir", str(self.project.root), "--concurrency", "2")
        self.exit_codes.append(result.exit_code)
        self.received.append(self.capture.events[before:])

    def watermark(self) -> dt.datetime:
        return max(row.timestamp for row in self.snapshots[-1]["events"].values())


def _one(project: DbtProject, sql: str) -> int:
    return project.query(sql)[0][0]


def _copy_pageviews(project: DbtProject, user: int, count: int, first: dt.datetime) -> None:
    """`count` new pageviews of `user` (copies of their last ones, new event ids), a minute apart
    from `first`."""
    top = _one(project, f"select max(event_id) from {HEAP}.pageviews")
    project.execute(
        f"insert into {HEAP}.pageviews select * replace ("
        f" {top} + row_number() over (order by event_id) as event_id,"
        f" timestamp '{first.isoformat()}'"
        "  + to_minutes(row_number() over (order by event_id)) as time)"
        f" from {HEAP}.pageviews where user_id = {user} order by time desc limit {count}"
    )


def _anonymous_user(project: DbtProject) -> int:
    """The anonymous user with the most pageviews who takes no part in any merge yet."""
    return _one(
        project,
        f"select user_id from {HEAP}.users join {HEAP}.pageviews using (user_id)"
        f" where identity is null and user_id not in (select from_user_id from {HEAP}.user_migrations"
        f" union select to_user_id from {HEAP}.user_migrations)"
        " group by user_id order by count(*) desc, user_id limit 1",
    )


def _identified_users(project: DbtProject, count: int) -> list[tuple[int, str]]:
    return project.query(
        f"select user_id, identity from {HEAP}.users where identity like 'user%@northwind.io'"
        f" and user_id not in (select from_user_id from {HEAP}.user_migrations)"
        f" order by user_id limit {count}"
    )


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    project = DbtProject.copy_of_repo(tmp_path_factory.mktemp("sync") / "project")
    # History ending well before now, so no event is held back as too recent.
    project.run_sample(
        "heap", "--events", "2500", "--seed", "42", "--end-date", "2025-06-30", "--days", "365",
        "--duckdb-path", str(project.duckdb_path),
    )  # fmt: skip
    project.dbt("build")
    with CaptureServer([TOKEN], personal_api_keys=[PERSONAL_KEY], project_id=PROJECT_ID) as capture:
        run = Scenario(project, capture)
        run.load()

        # Run 2: three new pageviews after the watermark, three late ones inside the look-back.
        run.merged_user = user = _anonymous_user(project)
        watermark = run.watermark()
        _copy_pageviews(project, user, 3, watermark + dt.timedelta(days=1))
        _copy_pageviews(project, user, 3, watermark - dt.timedelta(days=1))
        run.added_events = 6
        project.dbt("run")
        run.load()

        # Run 3: Heap merges the anonymous user into an identified one, rewriting user_id in
        # every table, and another user's properties change.
        (target, identity), (changed, _) = _identified_users(project, 2)
        run.merged_into = identity
        merged_at = run.watermark() + dt.timedelta(days=2)
        project.execute(
            f"insert into {HEAP}.user_migrations values ({user}, {target},"
            f" timestamp '{merged_at.isoformat()}')"
        )
        for (table,) in project.query(USER_TABLES_SQL, [HEAP]):
            project.execute(f"update {HEAP}.{table} set user_id = {target} where user_id = {user}")
        project.execute(
            f"update {HEAP}.users set plan_tier = 'enterprise',"
            f" last_modified = timestamp '{merged_at.isoformat()}' where user_id = {changed}"
        )
        run.changed_person = str(changed)
        project.dbt("run")
        run.load()

        # Nothing changed since: a fourth run sends nothing, and PostHog agrees with the views.
        run.load()
        run.verify = run.invoke("verify", "--project-dir", str(project.root))
        return run


def _uuids(events: list[ReceivedEvent], *names: str) -> list[str | None]:
    return [event.uuid for event in events if not names or event.event in names]


def _event_uuids(events: list[ReceivedEvent]) -> list[str | None]:
    return [event.uuid for event in events if event.event not in NOT_EVENTS]


def test_every_run_succeeds(scenario: Scenario):
    assert scenario.exit_codes == [0, 0, 0, 0]


def test_the_first_run_delivers_every_row(scenario: Scenario):
    first, received = scenario.snapshots[0], scenario.received[0]

    assert sorted(_uuids(received, "$create_alias")) == sorted(first["aliases"])
    assert sorted(_uuids(received, "$set")) == sorted(first["persons"])
    assert sorted(_event_uuids(received)) == sorted(first["events"])


def test_the_second_run_sends_the_new_and_the_late_rows_only(scenario: Scenario):
    before, after = scenario.snapshots[0]["events"], scenario.snapshots[1]["events"]
    added = set(after) - set(before)
    watermark = max(row.timestamp for row in before.values())

    assert len(added) == scenario.added_events
    # no alias, no old event; a person only when its properties changed: the user of the new pageviews,
    # whose latest place ($geoip_*) comes from them
    persons_before, persons_after = (
        scenario.snapshots[0]["persons"],
        scenario.snapshots[1]["persons"],
    )
    changed_persons = set(persons_after) - set(persons_before)
    assert all(
        persons_after[uuid].distinct_id == str(scenario.merged_user) for uuid in changed_persons
    )
    assert sorted(_uuids(scenario.received[1])) == sorted(added | changed_persons)
    late = {uuid for uuid in added if after[uuid].timestamp < watermark}
    assert len(late) == 3


def test_a_merged_users_events_are_not_sent_again_but_the_new_link_is(scenario: Scenario):
    before, after = scenario.snapshots[1], scenario.snapshots[2]
    moved = {
        uuid
        for uuid, row in after["events"].items()
        if before["events"][uuid].distinct_id != row.distinct_id
    }
    # Their events moved to the identified user: history, and the late rows run 2 sent, which
    # sit inside the look-back window (skipped by the record of delivered uuids).
    assert moved and all(
        after["events"][uuid].distinct_id == scenario.merged_into for uuid in moved
    )
    assert set(after["events"]) == set(before["events"])
    received = scenario.received[2]
    assert _event_uuids(received) == []

    links = [event for event in received if event.event == "$create_alias"]
    assert sorted(_uuids(links)) == sorted(set(after["aliases"]) - set(before["aliases"]))
    link = next(
        event for event in links if event.body["properties"]["alias"] == str(scenario.merged_user)
    )
    assert link.distinct_id == scenario.merged_into


def test_only_persons_whose_properties_changed_are_sent_again(scenario: Scenario):
    before, after = scenario.snapshots[1]["persons"], scenario.snapshots[2]["persons"]
    sent = [event for event in scenario.received[2] if event.event == "$set"]

    assert sorted(_uuids(sent)) == sorted(set(after) - set(before))
    changed = [
        event
        for event in sent
        if event.body["properties"]["$set"]["$heap_user_id"] == scenario.changed_person
    ]
    assert len(changed) == 1
    assert changed[0].body["properties"]["$set"]["plan_tier"] == "enterprise"
    # Unchanged persons went out once, in the first run.
    everything = Counter(_uuids([e for run in scenario.received for e in run], "$set"))
    assert all(everything[uuid] == 1 for uuid in set(after) & set(before))


def test_posthog_holds_each_event_once_under_its_dedup_key(scenario: Scenario):
    final = scenario.snapshots[-1]["events"]
    kept = [key for key in scenario.capture.deduplicated() if key[1] not in NOT_EVENTS]

    assert len(kept) == len(final)
    assert Counter(uuid for uuid, *_ in kept) == Counter(dict.fromkeys(final, 1))
    # Nothing was ever sent twice.
    everything = _event_uuids([event for run in scenario.received for event in run])
    assert len(everything) == len(set(everything)) == len(final)


def test_a_finished_sync_sends_nothing_and_verify_agrees(scenario: Scenario):
    assert scenario.received[3] == []
    assert scenario.verify is not None
    assert scenario.verify.exit_code == 0, scenario.verify.output
    assert "Every count matches" in scenario.verify.stdout
