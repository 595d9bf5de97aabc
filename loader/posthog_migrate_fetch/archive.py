"""Unpack an Export API zip into the download folder, each file appearing under its final name only once whole.

The zip holds `<project_id>/<project_id>_<date>_<hour>#<n>.json.gz` files; they are copied as they are (still
gzipped: DuckDB reads them so), under the same relative path, which is what `amplitude_export_path` expects.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from posthog_migrate_fetch.ledger import FetchedFile

DATA_SUFFIX = ".json.gz"
PARTIAL_SUFFIX = ".partial"


class DamagedArchiveError(Exception):
    """The downloaded archive is not a whole zip (a cut connection); the request is retried."""


@dataclass(frozen=True)
class Unpacked:
    files: tuple[FetchedFile, ...]
    project_ids: set[str]


def unpack(archive: Path, folder: Path, check_projects: Callable[[set[str]], None]) -> Unpacked:
    """Copy the archive's `*.json.gz` members into `folder`; a member's CRC is checked as it is copied.
    `check_projects` sees the project ids (the members' top folders) before anything is written."""
    try:
        zipped = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as exc:
        raise DamagedArchiveError(f"not a whole zip archive ({exc})") from exc
    files: list[FetchedFile] = []
    with zipped:
        members = [
            m for m in zipped.infolist() if not m.is_dir() and m.filename.endswith(DATA_SUFFIX)
        ]
        paths = [_safe_relative_path(member.filename) for member in members]
        project_ids = {path.parts[0] for path in paths if len(path.parts) > 1}
        check_projects(project_ids)
        staged: list[tuple[Path, Path]] = []
        try:
            for member, relative in zip(members, paths, strict=True):
                target = folder / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                partial = target.with_name(target.name + PARTIAL_SUFFIX)
                with zipped.open(member) as source, partial.open("wb") as sink:
                    shutil.copyfileobj(source, sink, 1024 * 1024)
                    sink.flush()
                    os.fsync(sink.fileno())
                staged.append((partial, target))
                files.append(FetchedFile(relative.as_posix(), member.file_size))
        except (zipfile.BadZipFile, EOFError) as exc:
            for partial, _ in staged:
                partial.unlink(missing_ok=True)
            raise DamagedArchiveError(f"a member failed its check ({exc})") from exc
        # Every member is whole: only now do they get the names a reader looks for.
        for partial, target in staged:
            os.replace(partial, target)
    return Unpacked(tuple(files), project_ids)


def _safe_relative_path(name: str) -> PurePosixPath:
    """The member's path, refused if it would land outside the folder."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise DamagedArchiveError(f"member {name!r} points outside the download folder")
    return path


def remove_partials(folder: Path) -> None:
    """Left-overs of an interrupted unpack (never read: their names do not end in .json.gz)."""
    for partial in folder.rglob(f"*{DATA_SUFFIX}{PARTIAL_SUFFIX}"):
        partial.unlink(missing_ok=True)
