"""The gzipped JSON-lines files of an Amplitude Export API archive, where DuckDB can read them.

`amplitude_export_path` is a folder of `*.json.gz` files (an unzipped export) or the export's zip itself.
DuckDB cannot read inside a zip, so the zip's members are copied (still gzipped) into a folder beside it,
once per version of the zip; DuckDB then parses every line in stg_amplitude__events. Returns one row per file.
"""

import json
import shutil
import zipfile
from pathlib import Path

import pandas as pd

MARKER = ".posthog_migrate_extracted.json"


def model(dbt, session):
    export_path = Path(dbt.config.get("export_path"))
    folder = Path(dbt.config.get("files_folder"))
    if export_path.is_dir():
        folder = export_path
    elif zipfile.is_zipfile(export_path):
        unzip_once(export_path, folder)
    else:
        raise ValueError(
            f"amplitude_export_path {export_path} is neither a folder nor a zip file. Point the var at the "
            "folder of *.json.gz files the Amplitude Export API produced, or at the zip itself."
        )
    files = sorted(folder.rglob("*.json.gz"))
    if not files:
        raise ValueError(f"No *.json.gz files under {folder} (from amplitude_export_path {export_path}).")
    return pd.DataFrame(
        {"file_path": [str(path) for path in files], "file_bytes": [path.stat().st_size for path in files]}
    )


def unzip_once(archive: Path, folder: Path) -> None:
    stat = archive.stat()
    version = {"archive": str(archive.resolve()), "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    marker = folder / MARKER
    if marker.exists() and json.loads(marker.read_text()) == version:
        return
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    with zipfile.ZipFile(archive) as zipped:
        for member in zipped.infolist():
            if member.filename.endswith(".json.gz") and not member.is_dir():
                target = folder / member.filename
                target.parent.mkdir(parents=True, exist_ok=True)
                with zipped.open(member) as source, target.open("wb") as sink:
                    shutil.copyfileobj(source, sink)
    marker.write_text(json.dumps(version))
