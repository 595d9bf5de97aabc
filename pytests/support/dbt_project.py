"""Run the real dbt CLI on a private copy of this repository's dbt project, against its own DuckDB file."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

REPO_ROOT = Path(__file__).resolve().parents[2]
PROJECT_FILES = (
    "dbt_project.yml",
    "profiles.example.yml",
    "models",
    "macros",
    "seeds",
    "tests",
    "analyses",
)
BIN = Path(sys.executable).parent


class DbtFailed(AssertionError):
    pass


@dataclass
class DbtProject:
    """A copy of the project in `root`, with profiles.yml pointing DuckDB at `duckdb_path`."""

    root: Path
    duckdb_path: Path
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def copy_of_repo(cls, root: Path) -> DbtProject:
        root.mkdir(parents=True, exist_ok=True)
        for name in PROJECT_FILES:
            source = REPO_ROOT / name
            if source.is_dir():
                shutil.copytree(source, root / name)
            elif source.exists():
                shutil.copy2(source, root / name)
        shutil.copy2(REPO_ROOT / "profiles.example.yml", root / "profiles.yml")
        duckdb_path = root / "target" / "warehouse.duckdb"
        duckdb_path.parent.mkdir(exist_ok=True)
        env = {
            **os.environ,
            "DBT_PROFILES_DIR": str(root),
            "DUCKDB_PATH": str(duckdb_path),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DO_NOT_TRACK": "1",
        }
        return cls(root=root, duckdb_path=duckdb_path, env=env)

    def run_sample(self, *args: str) -> None:
        """`posthog-migrate-sample <args>`, writing into this project's DuckDB file by default."""
        self._run([str(BIN / "posthog-migrate-sample"), *args])

    def generate_heap(
        self, events: int, schema: str = "heap_main_production", seed: int = 42
    ) -> None:
        self.run_sample(
            "heap", "--events", str(events), "--schema", schema, "--seed", str(seed),
            "--duckdb-path", str(self.duckdb_path),
        )  # fmt: skip

    def load_posthog(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """`load-posthog <args> --project-dir <this project>`."""
        command = [str(BIN / "load-posthog"), *args, "--project-dir", str(self.root)]
        return self._run(command, check=check)

    def dry_run_uuids(self, bodies: Path) -> tuple[list[str], list[str]]:
        """The uuids `load-posthog --dry-run` would send (its request bodies written to `bodies`) and the uuids of
        the contract views, both sorted: equal when the loader's own checks refuse nothing the models emitted."""
        self.load_posthog("--dry-run", "--dry-run-dir", str(bodies))
        sent = [
            event["uuid"]
            for body in sorted(bodies.rglob("*.json"))
            for event in json.loads(body.read_text())["batch"]
        ]
        expected = self.query(
            "select uuid from posthog_aliases union all select uuid from posthog_persons union all"
            " select uuid from posthog_events"
        )
        return sorted(sent), sorted(uuid for (uuid,) in expected)

    def dbt(
        self, *args: str, vars: dict[str, Any] | None = None, check: bool = True
    ) -> subprocess.CompletedProcess:
        command = [str(BIN / "dbt"), *args, "--project-dir", str(self.root)]
        if vars:
            command += ["--vars", json.dumps(vars)]
        return self._run(command, check=check)

    def dbt_killed_at(self, line: str, *args: str, vars: dict[str, Any] | None = None) -> str:
        """Run dbt and SIGKILL it (a power cut, the out-of-memory killer) as soon as it prints a line holding
        `line`; its output up to there."""
        command = [str(BIN / "dbt"), *args, "--project-dir", str(self.root)]
        if vars:
            command += ["--vars", json.dumps(vars)]
        with subprocess.Popen(
            command,
            cwd=self.root,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ) as process:
            assert process.stdout is not None
            output = []
            for printed in process.stdout:
                output.append(printed)
                if line in printed:
                    process.send_signal(signal.SIGKILL)
                    break
            process.wait(timeout=60)
        assert process.returncode == -signal.SIGKILL, (
            f"not killed at {line!r}:\n{''.join(output[-30:])}"
        )
        return "".join(output)

    def _run(self, command: list[str], check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            command,
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if check and result.returncode != 0:
            raise DbtFailed(
                f"{' '.join(command[:3])} failed ({result.returncode}):\n{result.stdout[-6000:]}"
                f"\n{result.stderr[-3000:]}"
            )
        return result

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        with duckdb.connect(str(self.duckdb_path), read_only=True) as con:
            con.execute("use posthog")
            return con.execute(sql, params or []).fetchall()

    def execute(self, sql: str) -> None:
        with duckdb.connect(str(self.duckdb_path)) as con:
            con.execute(sql)
