"""Secrets never leave the process: after every failure mode the project token (and the profile's
password) appears nowhere: not on stdout or stderr, not in the report, the state files or the
warehouse's state and quarantine tables."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import orjson
import pytest
from click.testing import Result

from loader.conftest import TOKEN, Project
from posthog_loader import pipeline
from posthog_loader.scrub import Scrubber
from support.fake_posthog import CaptureServer, Fault

# What would identify the token even if only part of it leaked.
TOKEN_TAIL = TOKEN.removeprefix("phc_")
PASSWORD = "hunter2-correct-horse-battery"


def _leaks(project: Project, result: Result, secret: str) -> list[str]:
    """Where `secret` shows: output, report, every file the run left, every state table."""
    places = {"stdout": result.stdout, "stderr": result.stderr}
    for path in project.root.rglob("*"):
        if path.is_file() and path.suffix != ".duckdb":
            places[str(path.relative_to(project.root))] = path.read_bytes().decode(errors="replace")
    if project.db_path.exists():
        with duckdb.connect(str(project.db_path), read_only=True) as con:
            tables = con.execute(
                "select table_schema, table_name from information_schema.tables"
                " where table_name like 'posthog_load_%'"
            ).fetchall()
            for schema, table in tables:
                places[f"{schema}.{table}"] = str(con.execute(f"from {schema}.{table}").fetchall())
    return [place for place, text in places.items() if secret in text]


def _bad_row(project: Project) -> None:
    """Event 7 breaks capture's contract in a way only the server sees (an empty event name)."""
    row = project.rows["events"][7]
    broken = orjson.loads(row.payload)
    broken["event"] = ""
    row.payload = orjson.dumps(broken).decode()
    project.set_rows("events", project.rows["events"])


Setup = Callable[[Project, CaptureServer], None]
FAILURES: dict[str, tuple[Setup, int]] = {
    "401 echoing the request": (lambda p, c: c.inject(Fault.echoing(401)), 3),
    "403 echoing the request": (lambda p, c: c.inject(Fault.echoing(403)), 3),
    "404 echoing the request": (lambda p, c: c.inject(Fault.echoing(404)), 4),
    "503s echoing the request until retries run out": (
        lambda p, c: setattr(c, "fault_hook", lambda _index: Fault.echoing(503)),
        4,
    ),
    "a 503 echoing the request, then success": (lambda p, c: c.inject(Fault.echoing(503)), 0),
    "every request refused with an echoing 400 (a broken endpoint)": (
        lambda p, c: setattr(c, "fault_hook", lambda _index: Fault.echoing(400)),
        4,
    ),
    "one row refused with an echoing 400": (
        lambda p, c: (_bad_row(p), setattr(c, "echo_requests_in_errors", True)),
        1,
    ),
}


@pytest.mark.parametrize("state", ["warehouse", "file"])
@pytest.mark.parametrize("failure", sorted(FAILURES))
def test_the_token_is_nowhere_after_a_failure(
    project: Project, capture: CaptureServer, failure: str, state: str
):
    setup, expected_exit = FAILURES[failure]
    setup(project, capture)
    state_args = ["--state-file", str(project.root / "state" / "s.json")] if state == "file" else []

    result = project.run(
        "--models",
        "events",
        "--max-retries",
        "2",
        "--concurrency",
        "1",
        "--report",
        str(project.root / "report.json"),
        *state_args,
    )

    assert result.exit_code == expected_exit, result.output
    assert _leaks(project, result, TOKEN_TAIL) == []


def test_the_echoing_400_was_quarantined_with_a_scrubbed_detail(
    project: Project, capture: CaptureServer
):
    _bad_row(project)
    capture.echo_requests_in_errors = True

    result = project.run("--models", "events", "--concurrency", "1")

    assert result.exit_code == 1, result.output
    ((detail,),) = project.query("select detail from main.posthog_load_quarantine")
    assert detail.startswith("HTTP 400: missing event name: ")
    assert '"api_key":"<POSTHOG_API_KEY>"' in detail


def test_credentials_in_the_host_url_are_refused_and_not_echoed(project: Project):
    report = project.root / "report.json"

    result = project.run(
        "--report",
        str(report),
        env={"POSTHOG_HOST": f"http://user:{TOKEN}@127.0.0.1:{project.server.port}"},
    )

    assert result.exit_code == 2
    assert "carries credentials" in result.stderr
    assert _leaks(project, result, TOKEN_TAIL) == []
    assert project.server.requests == []


def test_credentials_in_the_query_api_url_are_refused(project: Project):
    result = project.verify(env={"POSTHOG_API_HOST": f"https://me:{TOKEN}@us.posthog.com"})

    assert result.exit_code == 2
    assert "carries credentials" in result.stderr
    assert TOKEN_TAIL not in result.output


def test_a_bug_does_not_print_the_token(
    project: Project, capture: CaptureServer, monkeypatch: pytest.MonkeyPatch
):
    def explode(*args: object) -> None:
        raise RuntimeError(f"something went wrong with {TOKEN}")

    monkeypatch.setattr(pipeline, "_refuse_another_split", explode)

    result = project.run("--report", str(project.root / "report.json"))

    assert result.exit_code == 70
    assert "RuntimeError" in result.stderr
    assert _leaks(project, result, TOKEN_TAIL) == []


def _snowflake_profile(root: Path, port: str) -> None:
    (root / "profiles.yml").write_text(
        "fixture_profile:\n"
        "  target: dev\n"
        "  outputs:\n"
        "    dev:\n"
        "      type: snowflake\n"
        "      account: acme\n"
        "      user: loader\n"
        "      password: \"{{ env_var('SNOWFLAKE_PASSWORD') }}\"\n"
        "      database: analytics\n"
        "      schema: posthog\n"
        f"      port: {port}\n"
    )


def test_a_password_given_to_as_number_is_not_echoed(project: Project):
    # A profile mistake: the password variable under a filter that expects a number.
    _snowflake_profile(project.root, "\"{{ env_var('SNOWFLAKE_PASSWORD') | as_number }}\"")

    result = project.run(
        "--report", str(project.root / "report.json"), env={"SNOWFLAKE_PASSWORD": PASSWORD}
    )

    assert result.exit_code == 2
    assert "dev.port could not be rendered" in result.stderr
    assert "as_number" in result.stderr
    assert _leaks(project, result, PASSWORD) == []


def test_a_snowflake_port_that_is_not_a_number_is_exit_2_before_connecting(project: Project):
    _snowflake_profile(project.root, "'44three'")
    (project.root / "target" / "manifest.json").write_bytes(
        (project.root / "target" / "manifest.json")
        .read_bytes()
        .replace(b'"adapter_type":"duckdb"', b'"adapter_type":"snowflake"')
    )

    result = project.run(env={"SNOWFLAKE_PASSWORD": PASSWORD})

    assert result.exit_code == 2, result.output
    assert "`port:` that is not a number" in result.stderr
    assert _leaks(project, result, PASSWORD) == []


def test_redshift_profile_secrets_are_scrubbed_from_messages():
    scrub = Scrubber()
    scrub.add_profile_secrets(
        {"pass": PASSWORD, "secret_access_key": "wJalrXUtnFEMI/K7MDENG", "port": 5439}, "rs.prod"
    )

    text = scrub(f"Redshift: password {PASSWORD} refused; key wJalrXUtnFEMI/K7MDENG; port 5439")

    assert (
        text
        == "Redshift: password <rs.prod.pass> refused; key <rs.prod.secret_access_key>; port 5439"
    )


def test_profile_secrets_are_scrubbed_from_messages():
    scrub = Scrubber()
    scrub.add_profile_secrets(
        {
            "password": PASSWORD,
            "keyfile_json": {"private_key": "-----BEGIN KEY-----abc"},
            "port": 1,
        },
        "p.dev",
    )

    text = scrub(f"login failed for loader:{PASSWORD}; key -----BEGIN KEY-----abc; port 1")

    assert (
        text
        == "login failed for loader:<p.dev.password>; key <p.dev.keyfile_json.private_key>; port 1"
    )
    assert scrub("answer: phx_abcdefghijkl and https://u:p@host/x") == (
        "answer: phx_<redacted> and https://<credentials>@host/x"
    )


def test_a_plain_http_host_on_another_machine_gets_a_warning(project: Project):
    result = project.run("--dry-run", env={"POSTHOG_HOST": "http://posthog.internal.example"})

    assert result.exit_code == 0, result.output
    assert "plain http:// to another machine" in result.stderr
    loopback = project.run("--dry-run")
    assert "plain http://" not in loopback.stderr


def test_an_unwritable_report_path_is_exit_2_before_anything_is_sent(project: Project):
    blocker = project.root / "not_a_folder"
    blocker.write_text("a file where the report's folder should be")

    result = project.run("--report", str(blocker / "report.json"))

    assert result.exit_code == 2
    assert "--report" in result.stderr
    assert project.server.requests == []


def test_a_report_path_that_is_a_folder_is_exit_2(project: Project):
    result = project.run("--report", str(project.root))

    assert result.exit_code == 2
    assert project.server.requests == []
    assert not any(project.root.glob("*.json.tmp"))
