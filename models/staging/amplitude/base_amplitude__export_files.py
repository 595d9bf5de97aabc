"""The gzipped JSON-lines files of an Amplitude export, where DuckDB can read them.

`amplitude_export_path` is a folder of `*.json.gz` files (an unzipped Export API archive, posthog-migrate-fetch's
folder), the Export API's zip itself, or Amplitude's Amazon S3 export: `s3://bucket/prefix` holding
`<project_id>/<project_id>_<YYYY-MM-DD>_<H>#<n>.json.gz` (its `_complete` markers are not data). DuckDB lists
folders and buckets alike (S3 keys from the AWS conventions). It cannot read inside a zip, so a zip's members are
copied (still gzipped) into a folder beside it, once per version of the zip; DuckDB then parses every line in
stg_amplitude__events. Returns one row per file.
"""

import json
import shutil
import zipfile
from pathlib import Path

import pandas as pd
from posthog_migrate_files.s3 import prepare_connection

MARKER = ".posthog_migrate_extracted.json"


def model(dbt, session):
    export_path = dbt.config.get("export_path")
    folder = dbt.config.get("files_folder")
    if export_path.startswith("s3://"):
        prepare_connection(session, export_path)
    elif Path(export_path).is_file() and zipfile.is_zipfile(export_path):
        unzip_once(Path(export_path), Path(folder))
    elif not Path(export_path).is_dir():
        raise ValueError(
            f"amplitude_export_path {export_path} is neither a folder, a zip file nor an s3:// prefix. Point "
            "the var at the folder of *.json.gz files the Amplitude Export API produced, the zip itself, or "
            "Amplitude's S3 export (s3://bucket/prefix)."
        )
    files = list_files(session, folder)
    if not files:
        raise ValueError(f"No *.json.gz files under {folder} (from amplitude_export_path {export_path}).")
    return pd.DataFrame({"file_path": [f for f, _ in files], "file_bytes": [size for _, size in files]})


def list_files(session, folder):
    """Every *.json.gz under the folder or prefix, with its size: DuckDB lists local folders and S3 alike
    (read_blob reads no content unless it is selected)."""
    return session.execute(
        "select filename, size from read_blob(?) order by filename", [f"{folder.rstrip('/')}/**/*.json.gz"]
    ).fetchall()


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
