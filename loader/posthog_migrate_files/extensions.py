"""DuckDB's httpfs and avro extensions, loaded from their PyPI wheels: nothing is downloaded at run time.

`INSTALL httpfs` would fetch the extension from DuckDB's servers, which a locked-down machine (or CI) cannot reach.
The `duckdb-extension-<name>` wheels ship the same binaries for one exact DuckDB version; LOAD takes a file path,
so the extension is used straight from site-packages, with nothing written to ~/.duckdb.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import duckdb

EXTENSIONS = ("httpfs", "avro")


class ExtensionMissingError(RuntimeError):
    pass


def extension_path(name: str) -> Path:
    """The extension binary the `duckdb-extension-<name>` wheel ships for the installed DuckDB."""
    version = duckdb.__version__
    fix = (
        f"pip install 'duckdb=={version}' 'duckdb-extension-{name}=={version}' (or re-run `make setup`): "
        "DuckDB extensions must match DuckDB's version exactly."
    )
    try:
        package = importlib.import_module(f"duckdb_extension_{name}")
    except ImportError as exc:
        raise ExtensionMissingError(f"DuckDB's {name} extension is not installed. {fix}") from exc
    path = Path(package.__file__).parent / "extensions" / f"v{version}" / f"{name}.duckdb_extension"
    if not path.is_file():
        shipped = sorted(
            p.parent.name for p in path.parent.parent.glob(f"*/{name}.duckdb_extension")
        )
        raise ExtensionMissingError(
            f"duckdb-extension-{name} ships the extension for DuckDB {', '.join(shipped) or 'no version'}, "
            f"not v{version}. {fix}"
        )
    return path


def load_extensions(connection: duckdb.DuckDBPyConnection) -> None:
    for name in EXTENSIONS:
        path = str(extension_path(name)).replace("'", "''")
        connection.execute(f"load '{path}'")
