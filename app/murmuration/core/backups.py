"""Backups of state.db: consistent copies made with SQLite's backup API, checked, rotated, restored.

A backup is taken through a database connection, never by copying the file, so it is one committed
state even while the server writes. Each copy is checked before it takes its place in `backups/`;
a copy that fails the check is never kept (it would push a good backup out of the rotation).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from murmuration.core.errors import Damaged, storage_failure

KEEP = 7  # backups kept in a data folder's backups/ (the oldest beyond this go)
FOLDER = "backups"
NAME = re.compile(r"state-(\d{8}T\d{12}Z)-([a-z0-9-]+)\.db")
SIDECARS = ("", "-wal", "-shm")  # a database is its file plus, in WAL mode, these two


def backup_folder(state_db: Path) -> Path:
    """Where the backups of `state_db` live: `backups/` in the same data folder."""
    return state_db.parent / FOLDER


def stamp() -> str:
    """A UTC time stamp that sorts as it reads and is unique enough for two backups in one second."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")


@dataclass(frozen=True)
class Backup:
    path: Path
    taken: datetime
    reason: str


def backups(folder: Path) -> list[Backup]:
    """The backups in `folder`, newest first (files that do not look like ours are ignored)."""
    found = []
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        for entry in os.scandir(folder):
            match = NAME.fullmatch(entry.name)
            if match and entry.is_file(follow_symlinks=False):
                taken = datetime.strptime(match.group(1), "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)
                found.append(Backup(Path(entry.path), taken, match.group(2)))
    return sorted(found, key=lambda b: b.path.name, reverse=True)


def problem(path: Path) -> str | None:
    """What SQLite's quick_check and foreign_key_check find wrong with the database at `path`, or None.

    The file is opened read-only, so checking never changes it (nor creates it).
    """
    try:
        db = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return str(exc)
    try:
        return check_connection(db)
    except sqlite3.DatabaseError as exc:
        return str(exc)
    finally:
        db.close()


def check_connection(db: sqlite3.Connection) -> str | None:
    """quick_check (every page and index readable and consistent) then foreign_key_check, on `db`."""
    rows = [r[0] for r in db.execute("PRAGMA quick_check(5)").fetchall()]
    if rows != ["ok"]:
        return "; ".join(str(r) for r in rows)
    orphans = db.execute("PRAGMA foreign_key_check").fetchall()
    if orphans:
        return f"{len(orphans)} rows point at rows that are gone (first in table {orphans[0][0]})"
    return None


def copy_database(source: sqlite3.Connection, target: Path) -> None:
    """Write a consistent copy of `source` to the new file `target` (mode 0600) with SQLite's backup API."""
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    os.close(fd)
    dest = sqlite3.connect(target, isolation_level=None)
    try:
        source.backup(dest)
        # A copy is a single file: no WAL beside it that a move could leave behind.
        dest.execute("PRAGMA journal_mode=DELETE")
    finally:
        dest.close()


def make_backup(state_db: Path, reason: str, source: sqlite3.Connection | None = None, keep: int = KEEP) -> Path:
    """A checked copy of `state_db` in its backups/ folder, keeping the newest `keep`; its path.

    `source` is a connection to read from (the store's own, before a migration); without one the file is
    opened read-write but only read. Raises Damaged when the copy fails the check, DiskFull without room.
    """
    folder = backup_folder(state_db)
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
    except OSError as exc:
        _raise_storage_failure(exc, state_db.parent)
        raise
    made = backup_to(state_db, folder / f"state-{stamp()}-{reason}.db", source)
    for old in backups(folder)[keep:]:
        old.path.unlink(missing_ok=True)
    return made


def backup_to(state_db: Path, target: Path, source: sqlite3.Connection | None = None) -> Path:
    """A checked copy of `state_db` at the new file `target` (never overwritten); `target`.

    The copy is made under a temporary name beside `target` and renamed only once it passed its check,
    so `target` is never a half copy.
    """
    partial = target.with_name(f".{target.name}.partial")
    if target.exists() or target.is_symlink():
        raise FileExistsError(errno.EEXIST, "exists already", str(target))
    try:
        own = source is None
        # mode=rw: read a store in place without ever creating one where there is none.
        db = source or sqlite3.connect(f"{state_db.absolute().as_uri()}?mode=rw", uri=True)
        try:
            copy_database(db, partial)
        finally:
            if own:
                db.close()
        found = problem(partial)
        if found is not None:
            raise Damaged(found)
        os.replace(partial, target)
    except (sqlite3.Error, OSError) as exc:
        _raise_storage_failure(exc, state_db.parent)
        raise
    finally:
        partial.unlink(missing_ok=True)  # only ever our own unfinished copy
    return target


def schema_version(path: Path) -> int:
    """The schema version (user_version) of the database at `path`, read without changing it."""
    db = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
    try:
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    finally:
        db.close()


def put_aside(state_db: Path, label: str) -> Path:
    """Rename `state_db` and its WAL files to `<name>.<label>-<stamp>` beside it (nothing is deleted)."""
    kept = state_db.with_name(f"{state_db.name}.{label}-{stamp()}")
    for suffix in SIDECARS:
        with contextlib.suppress(FileNotFoundError):
            os.rename(f"{state_db}{suffix}", f"{kept}{suffix}")
    return kept


def restore(state_db: Path, backup: Path, label: str = "before-restore") -> Path:
    """Put the database `backup` in place of `state_db`, whose files are kept beside it; their new path.

    The caller holds the data folder's lock (no server runs). The backup is checked first, copied to a
    new file, and only then swapped in, so a failure at any step leaves the current store where it was.
    """
    found = problem(backup)
    if found is not None:
        raise Damaged(found)
    staging = state_db.with_name(f".{state_db.name}.restoring")
    staging.unlink(missing_ok=True)  # our own leftover from an interrupted restore, never a store
    try:
        source = sqlite3.connect(f"{backup.absolute().as_uri()}?mode=ro", uri=True)
        try:
            copy_database(source, staging)
        finally:
            source.close()
        kept = put_aside(state_db, label)
        os.replace(staging, state_db)
    except (sqlite3.Error, OSError) as exc:
        staging.unlink(missing_ok=True)
        _raise_storage_failure(exc, state_db.parent)
        raise
    return kept


def _raise_storage_failure(exc: BaseException, folder: Path) -> None:
    failure = storage_failure(exc, folder)
    if failure is not None:
        raise failure from exc
