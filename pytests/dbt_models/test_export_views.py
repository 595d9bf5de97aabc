"""`load-posthog export` of the real contract views (the Heap sample through the real `dbt build`), read
back the way PostHog's managed import reads them: every row once, in order, reconciled with the views."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import orjson
import pytest

from support.dbt_project import DbtProject
from support.managed_import import import_parts

MODELS = ("aliases", "persons", "events")


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[DbtProject, Path]:
    project = DbtProject.copy_of_repo(tmp_path_factory.mktemp("export") / "project")
    project.generate_heap(events=4_000)
    project.dbt("build")
    out = project.root / "export"
    result = project.load_posthog(
        "export", "--to", str(out), "--state-file", str(project.root / "state.json"), check=False
    )
    assert result.returncode in (0, 1), result.stdout + result.stderr
    return project, out


@pytest.mark.slow
def test_every_row_of_the_views_is_imported_once_in_order(exported: tuple[DbtProject, Path]):
    project, out = exported
    files = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    events = import_parts(files, files.__getitem__)
    manifest = orjson.loads(files["manifest.json"])

    imported = Counter(event.uuid for event in events)
    assert set(imported.values()) == {1}
    for model in MODELS:
        view_uuids = {uuid for (uuid,) in project.query(f"select uuid from posthog_{model}")}
        folder = f"{MODELS.index(model) + 1}-{model}/"
        mine = {event.uuid for event in events if event.key.startswith(folder)}
        assert mine <= view_uuids
        summary = manifest["models"][model]
        # Exported, quarantined, held as too recent or without a timestamp: every row of the view.
        assert len(mine) == summary["events"]
        assert summary["events"] + summary["quarantined"] + summary["held"] + summary[
            "missing_timestamp"
        ] == len(view_uuids)
        assert summary["events"] > 0
    # Identity links before persons before events, days oldest first, each part one day.
    keys = [event.key for event in events]
    assert keys == sorted(keys)
    assert all(
        event.timestamp and event.timestamp[:10] == event.key.split("/")[1] for event in events
    )
    by_name = Counter(event.event for event in events)
    assert by_name["$create_alias"] == manifest["models"]["aliases"]["events"]
    persons = [event for event in events if event.key.startswith("2-persons/")]
    assert all("$set" in event.properties or "$set_once" in event.properties for event in persons)
