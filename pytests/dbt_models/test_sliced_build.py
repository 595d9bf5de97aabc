"""The heavy models built one slice of time at a time, by the real dbt CLI on DuckDB: the output is the one-shot
build's, byte for byte; a killed build resumes at its first unfinished slice; a range is rebuilt in place.

The Heap sample spans 20 days at a slice budget below one day's rows, so every midnight is a slice boundary, and
it carries the cases that cross one: sessions spanning midnight, users merged into another whose events lie in
other slices, and a copy of an event delivered again days later. The Amplitude warehouse export beside it gets a
re-delivered event whose earlier upload (the copy kept) is dated a month after the other.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from support.dbt_project import DbtProject

pytestmark = pytest.mark.slow

HEAP = "heap_main_production"
SAMPLE = ("--events", "4000", "--days", "20", "--end-date", "2026-06-30")
AMPLITUDE_PROJECT_ID = 609539
AMPLITUDE_EVENTS = f'amplitude."EVENTS_{AMPLITUDE_PROJECT_ID}"'
AMPLITUDE = {"amplitude_enabled": True, "amplitude_project_id": AMPLITUDE_PROJECT_ID}
# 4000 events over 20 days is about 200 a day: a budget of 150 rows makes each day a slice of its own.
SLICED = {**AMPLITUDE, "posthog_slice_rows": 150}
ONE_SHOT = {**AMPLITUDE, "posthog_slice_rows": 1_000_000_000}
CLASSIFIED = "int_heap_events__classified"
SLICE_LOG = f"{CLASSIFIED}__slices"
# built before the classified model, so every killed build has written them
WHOLE_HISTORY = (
    "int_heap_users__resolved",
    "int_heap_sessions__started",
    "int_heap_events__duplicated",
)
# A pageview delivered again, unchanged except for its time, ten days after the first copy.
LATE_COPY = f"""
    insert into {HEAP}.pageviews
    select * replace (time + interval 10 day as time)
    from {HEAP}.pageviews
    where time is not null and event_id is not null
    order by time, event_id
    limit 1
"""


# The same Amplitude event uploaded again (same uuid), the new copy dated 30 days later but uploaded an hour
# before the first: the copy kept is the one in the later slice.
AMPLITUDE_REDELIVERY = f"""
    insert into {AMPLITUDE_EVENTS}
    select * replace (
        event_time + interval 30 day as event_time, server_upload_time - interval 1 hour as server_upload_time
    )
    from {AMPLITUDE_EVENTS}
    where event_time is not null and uuid is not null
    order by event_time, uuid
    limit 1
"""


def _project(root: Path) -> DbtProject:
    project = DbtProject.copy_of_repo(root)
    project.run_sample("heap", *SAMPLE, "--duckdb-path", str(project.duckdb_path))
    project.run_sample(
        "amplitude", "--events", "2000", "--project-id", str(AMPLITUDE_PROJECT_ID),
        "--export-zip", str(root / "amplitude_export.zip"),
        "--duckdb-path", str(project.duckdb_path), "--warehouse-schema", "amplitude",
    )  # fmt: skip
    project.execute(LATE_COPY)
    project.execute(AMPLITUDE_REDELIVERY)
    return project


def _contract(project: DbtProject) -> dict[str, list[tuple]]:
    """Every row of the contract views and of the classified table, in a stable order."""
    return {
        "events": project.query(
            "select uuid, payload, shard_key from posthog_events order by uuid"
        ),
        "persons": project.query("select * from posthog_persons order by all"),
        "aliases": project.query("select * from posthog_aliases order by all"),
        "quarantine": project.query("select * from posthog_quarantine order by all"),
        "reconciliation": project.query("select * from posthog_reconciliation order by all"),
        "classified": project.query(
            f"select * exclude (source_row_locator) from {CLASSIFIED} order by all"
        ),
        "amplitude classified": project.query(
            "select * from int_amplitude_events__classified order by all"
        ),
    }


def _log(project: DbtProject) -> list[tuple]:
    return project.query(
        f"select build_id, build_kind, slice_number, lower_bound, upper_bound, untimed, finished_at"
        f" from {SLICE_LOG} order by planned_at, slice_number"
    )


@pytest.fixture(scope="module")
def one_shot(tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    project = _project(tmp_path_factory.mktemp("one_shot"))
    project.dbt("build", vars=ONE_SHOT)
    return project


@pytest.fixture(scope="module")
def sliced(tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    project = _project(tmp_path_factory.mktemp("sliced"))
    project.dbt("build", vars=SLICED)
    return project


def test_the_sample_crosses_slice_boundaries(sliced: DbtProject) -> None:
    timed = [row for row in _log(sliced) if not row[5]]
    boundaries = [row[4] for row in timed if row[4] is not None]
    assert len(timed) >= 20, "each day should be a slice of its own"
    assert all(row[6] is not None for row in _log(sliced))
    sessions_spanning_midnight = sliced.query(
        f"""select count(*) from (
            select posthog_session_id from {CLASSIFIED}
            where posthog_session_id is not null and event_at is not null
            group by posthog_session_id having min(cast(event_at as date)) < max(cast(event_at as date))
        )"""
    )[0][0]
    assert sessions_spanning_midnight > 0
    merged_users_across_slices = sliced.query(
        f"""select count(*) from (
            select users.final_user_id
            from {HEAP}.pageviews as events
            join int_heap_users__resolved as users on cast(events.user_id as varchar) = users.user_id
            where users.migration_hops > 0
            group by users.final_user_id
            having count(distinct cast(events.time as date)) > 1
        )"""
    )[0][0]
    assert merged_users_across_slices > 0
    late_copy_skipped = sliced.query(
        f"""select count(*) from {CLASSIFIED}
        where status_reason = 'duplicate row of an event_id already emitted'
          and uuid in (select uuid from {CLASSIFIED} where row_status = 'emitted')
          and cast(event_at as date) > (
              select min(cast(first.event_at as date)) from {CLASSIFIED} as first
              where first.uuid = {CLASSIFIED}.uuid)"""
    )[0][0]
    assert late_copy_skipped == 1
    assert len(boundaries) == len(timed) - 1
    redelivered = sliced.query(
        """select row_status, cast(event_at as date) from int_amplitude_events__classified
        where uuid in (
            select uuid from int_amplitude_events__classified group by uuid having count(*) > 1
            and max(event_at) - min(event_at) >= interval 30 day
        )
        order by event_at"""
    )
    assert [status for status, _ in redelivered] == ["skipped", "emitted"]
    amplitude_slices = sliced.query(
        "select count(*) from int_amplitude_events__classified__slices where not untimed"
    )[0][0]
    assert amplitude_slices > 5


def test_sliced_build_is_the_one_shot_build(sliced: DbtProject, one_shot: DbtProject) -> None:
    assert len(_log(one_shot)) == 2  # all times at once, then the rows without one
    sliced_rows, one_shot_rows = _contract(sliced), _contract(one_shot)
    for name, rows in one_shot_rows.items():
        assert rows, name
        assert sliced_rows[name] == rows, name


def test_the_one_shot_query_gives_the_sliced_table(sliced: DbtProject) -> None:
    """The model's compiled SQL, run as one query over the whole history, selects exactly the table's rows."""
    compiled = next((sliced.root / "target" / "compiled").rglob(f"{CLASSIFIED}.sql")).read_text()
    one_query = sliced.query(
        f"select * exclude (source_row_locator) from ({compiled}) as one_query order by all"
    )
    assert one_query == _contract(sliced)["classified"]


def test_a_killed_build_resumes_at_its_first_unfinished_slice(
    tmp_path_factory: pytest.TempPathFactory, one_shot: DbtProject
) -> None:
    project = _project(tmp_path_factory.mktemp("killed"))
    project.dbt("build", vars=SLICED)
    published = _contract(project)["classified"]
    project.dbt_killed_at(f"{CLASSIFIED}: slice 6 of", "build", vars=SLICED)

    build_id, kind = _log(project)[-1][:2]
    stopped = [row for row in _log(project) if row[0] == build_id]
    finished = [row for row in stopped if row[6] is not None]
    assert kind == "full"
    assert [row[2] for row in finished] == list(range(1, 7))
    # readers still see the last complete table
    assert _contract(project)["classified"] == published

    resumed = project.dbt("build", vars=SLICED).stdout
    assert (
        f"{CLASSIFIED}: resuming build {build_id}, {len(stopped) - 6} of {len(stopped)} slices left"
        in resumed
    )
    assert f"{CLASSIFIED}: slice 1 of" not in resumed
    assert f"{CLASSIFIED}: slice 7 of {len(stopped)} built" in resumed
    after = [row for row in _log(project) if row[0] == build_id]
    assert after[:6] == finished, "finished slices are not built again"
    assert all(row[6] is not None for row in after)
    # the whole-history tables the killed build wrote are kept, not built again
    for model in WHOLE_HISTORY:
        assert f"{model}: kept as build {build_id} wrote it" in resumed, model
    assert _contract(project) == _contract(one_shot)

    # once the build is whole, the next one builds everything again
    rebuilt = project.dbt("build", vars=SLICED).stdout
    assert "kept as build" not in rebuilt
    assert _contract(project) == _contract(one_shot)


def test_an_event_time_range_is_rebuilt_in_place(sliced: DbtProject, one_shot: DbtProject) -> None:
    day = sliced.query(f"select min(cast(event_at as date)) + 5 from {CLASSIFIED}")[0][0]
    sliced.execute(f"delete from posthog.{CLASSIFIED} where cast(event_at as date) = '{day}'")
    assert _contract(sliced)["classified"] != _contract(one_shot)["classified"]
    result = sliced.dbt(
        "run", "--select", CLASSIFIED, "--event-time-start", f"{day}",
        "--event-time-end", f"{day} 23:59:59", vars=SLICED,
    )  # fmt: skip
    assert f"{CLASSIFIED}: slice 1 of 1 built, [{day} 00:00:00, {day} 23:59:59)" in result.stdout
    range_build = [row for row in _log(sliced) if row[1] == "range"]
    assert [(row[3], row[4]) for row in range_build] == [(f"{day} 00:00:00", f"{day} 23:59:59")]
    assert _contract(sliced) == _contract(one_shot)
