"""Install DuckDB extensions from their PyPI wheels (duckdb-extension-<name>) into DuckDB's extension folder.

`INSTALL <name>` would download them; installed this way DuckDB finds them locally (under $HOME/.duckdb) and
never goes to the network. Run with the Python whose DuckDB will load them: `python install_duckdb_extensions.py
spatial avro`.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import duckdb


def install(name: str) -> Path:
    package = importlib.import_module(f"duckdb_extension_{name}")
    path = (
        Path(package.__file__).parent
        / "extensions"
        / f"v{duckdb.__version__}"
        / f"{name}.duckdb_extension"
    )
    with duckdb.connect() as con:
        con.execute(f"install '{path}'")
        con.execute(f"load {name}")
    return path


if __name__ == "__main__":
    for extension in sys.argv[1:]:
        print(f"installed {install(extension)}")
