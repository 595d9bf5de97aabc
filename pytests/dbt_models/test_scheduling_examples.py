"""The scheduling examples run as written: examples/cron/nightly.sh, the real dbt CLI and load-posthog
against the capture server and its query API, on two nights in a row; the GitHub Actions workflows
call only commands and flags that exist."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import orjson
import pytest
import yaml

from support.dbt_project import BIN, REPO_ROOT, DbtProject
from support.fake_posthog import CaptureServer

NIGHTLY_SCRIPT = REPO_ROOT / "examples" / "cron" / "nightly.sh"
WORKFLOWS = sorted((REPO_ROOT / "examples" / "github-actions").glob("*.yml"))
TOKEN = "phc_nightly_example"
PERSONAL_KEY = "phx_nightly_example"
PROJECT_ID = "4242"
SCRIPT_TIMEOUT_SECONDS = 600


def run_nightly(project: DbtProject, capture: CaptureServer) -> subprocess.CompletedProcess:
    env = {
        **project.env,
        "POSTHOG_MIGRATE_DIR": str(project.root),
        "POSTHOG_MIGRATE_BIN": str(BIN),
        "POSTHOG_API_KEY": TOKEN,
        "POSTHOG_HOST": capture.url,
        "POSTHOG_PERSONAL_API_KEY": PERSONAL_KEY,
        "POSTHOG_PROJECT_ID": PROJECT_ID,
        "POSTHOG_API_HOST": capture.url,
        # the capture server stores what it accepts at once: nothing to wait for
        "VERIFY_WAIT": "0",
    }
    return subprocess.run(
        ["sh", str(NIGHTLY_SCRIPT)],
        env=env,
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT_SECONDS,
        check=False,
    )


def test_the_nightly_script_builds_loads_and_proves_delivery_night_after_night(
    tmp_path: Path,
) -> None:
    project = DbtProject.copy_of_repo(tmp_path / "project")
    project.generate_heap(events=2000)
    with CaptureServer([TOKEN], personal_api_keys=[PERSONAL_KEY], project_id=PROJECT_ID) as capture:
        first = run_nightly(project, capture)
        assert first.returncode == 0, f"{first.stdout[-4000:]}\n{first.stderr[-4000:]}"
        delivered = capture.uuids()

        second = run_nightly(project, capture)
        assert second.returncode == 0, f"{second.stdout[-4000:]}\n{second.stderr[-4000:]}"
        again = capture.uuids()

    load = orjson.loads((project.root / "target" / "posthog_load.json").read_bytes())
    verify = orjson.loads((project.root / "target" / "posthog_verify.json").read_bytes())
    events = project.query(
        "select count(*) from posthog_events where timestamp < now() - interval 48 hours"
    )[0][0]
    assert events > 1000
    # Every event old enough for the historical lane arrived, with the links and persons before it...
    assert len(set(delivered)) >= events
    # ...PostHog's counts agree with the warehouse's...
    assert verify["totals"]["difference"] == 0
    assert verify["totals"]["expected"] == verify["totals"]["posthog"] > 0
    # ...and the second night found nothing new to send.
    assert again == delivered
    assert all(model["sent"] == 0 for model in load["models"]), load["models"]


def _workflow_commands(path: Path) -> list[list[str]]:
    workflow = yaml.safe_load(path.read_text())
    commands = []
    for job in workflow["jobs"].values():
        for step in job.get("steps", []):
            script = re.sub(r"\\\n", " ", step.get("run", ""))
            for line in script.splitlines():
                words = shlex.split(re.sub(r"\$\{\{[^}]*\}\}", "X", line), comments=True)
                if words and words[0] in {"dbt", "load-posthog"}:
                    commands.append(words)
    return commands


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda path: path.name)
def test_workflow_steps_use_commands_and_flags_that_exist(workflow: Path) -> None:
    commands = _workflow_commands(workflow)
    assert any(words[0] == "load-posthog" for words in commands)
    for words in commands:
        subcommand = ["verify"] if words[1:2] == ["verify"] else []
        help_text = subprocess.run(
            [str(BIN / words[0]), *(["build"] if words[0] == "dbt" else subcommand), "--help"],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout
        for flag in (word.split("=", 1)[0] for word in words if word.startswith("--")):
            assert flag in help_text, f"{workflow.name}: `{' '.join(words)}` uses unknown {flag}"
