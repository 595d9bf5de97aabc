"""A copy of the dbt project pointed at the local Snowflake and BigQuery emulators and the Redshift stand-in.

Everything emulator-specific lives in this test copy, never in the shipped project: the profiles, a macro path
with fakesnow work-arounds (pytests/warehouses/emulator_macros), and `transient: false` (fakesnow cannot
create transient tables, dbt-snowflake's default). The Redshift stand-in's own shims are SQL objects in its
database (pytests/warehouses/emulator_sql/redshift.sql).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from support.dbt_project import REPO_ROOT, DbtFailed, DbtProject
from support.emulators import BigQueryEmulator, Emulator, Fakesnow, RedshiftStandIn

EMULATOR_MACROS = REPO_ROOT / "pytests" / "warehouses" / "emulator_macros"
SNOWFLAKE_DATABASE = "POSTHOG_MIGRATE_TEST"
TARGET_SCHEMA = "posthog"
REDSHIFT_INCREMENTAL_SCHEMA = "posthog_incremental"
REDSHIFT_OVERSIZE_SCHEMA = "posthog_oversize"
# Generous for a 2-core machine shared with other jobs; the emulator watchdog ends real failures at once.
DBT_TIMEOUT_SECONDS = 900


def _profiles(
    fakesnow: Fakesnow | None, bigquery: BigQueryEmulator | None, redshift: RedshiftStandIn | None
) -> dict[str, Any]:
    outputs: dict[str, Any] = {
        "duckdb": {
            "type": "duckdb",
            "path": "{{ env_var('DUCKDB_PATH') }}",
            "schema": TARGET_SCHEMA,
            "threads": 2,
            "plugins": [{"module": "posthog_migrate_files.duckdb_plugin"}],
        }
    }
    if fakesnow is not None:
        outputs["snowflake"] = {
            "type": "snowflake",
            "account": "fakesnow",
            "user": "fake",
            "password": "snow",
            "role": "transformer",
            "warehouse": "transforming",
            "database": SNOWFLAKE_DATABASE,
            "schema": TARGET_SCHEMA,
            "host": "localhost",
            "port": fakesnow.port,
            "protocol": "http",
            "connect_retries": 0,
            "connect_timeout": 20,
            # fakesnow serves every session from one DuckDB connection
            "threads": 1,
        }
    if bigquery is not None:
        outputs["bigquery"] = {
            "type": "bigquery",
            "method": "oauth-secrets",
            "token": "unused-by-the-emulator",
            "project": bigquery.project,
            "dataset": TARGET_SCHEMA,
            "location": "US",
            "api_endpoint": bigquery.api_endpoint,
            "job_retries": 0,
            "job_execution_timeout_seconds": 300,
            "threads": 2,
        }
    if redshift is not None:
        # The profile a Redshift user writes (README), on loopback without TLS.
        outputs["redshift"] = {
            "type": "redshift",
            "host": "127.0.0.1",
            "port": redshift.port,
            "user": redshift.user,
            "password": "{{ env_var('REDSHIFT_PASSWORD') }}",
            "dbname": redshift.database,
            "schema": TARGET_SCHEMA,
            "sslmode": "disable",
            "connect_timeout": 30,
            "retries": 0,
            "threads": 2,
        }
        # The same, building into schemas of their own (the incremental and the over-size tests).
        for name, schema in (
            ("redshift_incremental", REDSHIFT_INCREMENTAL_SCHEMA),
            ("redshift_oversize", REDSHIFT_OVERSIZE_SCHEMA),
        ):
            outputs[name] = {**outputs["redshift"], "schema": schema}
    return {"posthog_migrate": {"target": "duckdb", "outputs": outputs}}


@dataclass
class WarehouseProject(DbtProject):
    """DbtProject whose dbt runs stop at the first request an emulator fails (instead of retrying it)."""

    watched: list[Emulator] = field(default_factory=list)

    @classmethod
    def for_emulators(
        cls,
        root: Path,
        *,
        fakesnow: Fakesnow | None = None,
        bigquery: BigQueryEmulator | None = None,
        redshift: RedshiftStandIn | None = None,
    ) -> WarehouseProject:
        base = DbtProject.copy_of_repo(root)
        env = {**base.env, **({"REDSHIFT_PASSWORD": redshift.password} if redshift else {})}
        project = cls(root=base.root, duckdb_path=base.duckdb_path, env=env)
        project.watched = [
            emulator.emulator for emulator in (fakesnow, bigquery) if emulator is not None
        ]
        (root / "profiles.yml").write_text(yaml.safe_dump(_profiles(fakesnow, bigquery, redshift)))
        project._add_test_config()
        return project

    def _add_test_config(self) -> None:
        shutil.copytree(EMULATOR_MACROS, self.root / "emulator_macros")
        path = self.root / "dbt_project.yml"
        config = yaml.safe_load(path.read_text())
        config["macro-paths"] = [*config.get("macro-paths", ["macros"]), "emulator_macros"]
        for section in ("models", "seeds"):
            config.setdefault(section, {}).setdefault("posthog_migrate", {})["+transient"] = False
        path.write_text(yaml.safe_dump(config, sort_keys=False))

    def _run(self, command: list[str], check: bool = True) -> subprocess.CompletedProcess:
        result = self.run_command(command)
        if check and result.returncode != 0:
            raise DbtFailed(
                f"{' '.join(command[:3])} failed ({result.returncode}):\n{result.stdout[-6000:]}"
                f"\n{result.stderr[-3000:]}"
            )
        return result

    def run_command(
        self,
        command: list[str],
        *,
        env: dict[str, str] | None = None,
        timeout: float = DBT_TIMEOUT_SECONDS,
    ) -> subprocess.CompletedProcess:
        """Run `command` in the project, ended early (DbtFailed) if a watched emulator fails a request."""
        offsets = [(emulator, emulator.log_offset()) for emulator in self.watched]
        deadline = time.monotonic() + timeout
        with subprocess.Popen(
            command,
            cwd=self.root,
            env={**self.env, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as process:
            while True:
                try:
                    stdout, stderr = process.communicate(timeout=1)
                    break
                except subprocess.TimeoutExpired:
                    failure = next(
                        (
                            found
                            for emulator, offset in offsets
                            if (found := emulator.failure_since(offset))
                        ),
                        None,
                    )
                    if failure is None and time.monotonic() < deadline:
                        continue
                    process.kill()
                    stdout, stderr = process.communicate()
                    raise DbtFailed(
                        f"{' '.join(command[:3])} stopped: "
                        + (failure or f"no result in {timeout}s")
                        + f"\n--- its output:\n{stdout[-6000:]}\n{stderr[-3000:]}"
                    ) from None
        return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)

    def compiled_sql(self) -> dict[Path, str]:
        """Every model, test and unit test as dbt compiled it in the last run, by path."""
        compiled = self.root / "target" / "compiled"
        return {path.relative_to(compiled): path.read_text() for path in compiled.rglob("*.sql")}
