"""The DuckDB target of profiles.example.yml survives a build that spills to disk.

dbt-duckdb opens the database once with `config_options` and runs `SET <name> = <value>` for every entry of
`settings` on each new cursor (one per thread and model). DuckDB refuses to move its temporary directory after a
query has spilled there, so a spill-directory setting among `settings` failed every model after the first spill
("Cannot switch temporary directory after the current one has been used"): seen on 10M Heap events at 2 GB.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import yaml

from support.dbt_project import REPO_ROOT


def duckdb_target() -> dict:
    profile = yaml.safe_load((REPO_ROOT / "profiles.example.yml").read_text())
    return profile["posthog_migrate"]["outputs"]["duckdb"]


def test_settings_applied_on_every_cursor_still_apply_after_a_spill(tmp_path: Path) -> None:
    target = duckdb_target()
    spill = tmp_path / "warehouse.duckdb.tmp"
    # the profile's values are templates dbt renders; what matters here is which block each setting is in
    config_options = {name: str(spill) for name in target.get("config_options", {})}
    assert config_options == {"temp_directory": str(spill)}
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"), config=config_options)
    connection.execute("set memory_limit = '32MB'")
    connection.execute("set threads = 1")
    connection.execute("create table sorted as select * from range(4000000) t(n) order by hash(n)")
    assert connection.execute("select current_setting('temp_directory')").fetchone()[0] == str(
        spill
    )
    assert spill.exists(), "the sort should have spilled: the test proves nothing otherwise"

    cursor = connection.cursor()  # as dbt-duckdb's next model does
    for name, value in target["settings"].items():
        rendered = "2GB" if name == "memory_limit" else str(value)
        cursor.execute(f"set {name} = '{rendered}'")
    assert cursor.execute("select count(*) from sorted").fetchone()[0] == 4000000
