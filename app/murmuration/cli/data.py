"""`murmuration doctor`, `backup` and `restore`: the commands that look after an instance's data."""

from __future__ import annotations

import argparse
import sqlite3
from pathlib import Path

from murmuration import registry
from murmuration.cli.commands import find
from murmuration.cli.errors import CommandError
from murmuration.core import backups
from murmuration.core.errors import Damaged, DiskFull
from murmuration.core.schema import MIGRATIONS
from murmuration.datafolder import DataFolder
from murmuration.doctor import examine, main_repair
from murmuration.lock import FolderLock, FolderLocked


def doctor(args: argparse.Namespace) -> int:
    """One line per finding (with what to do); with --repair, the safe fixes done. Exit 1 while any is left."""
    folders = [find(args.name)] if args.name else registry.managed_folders()
    findings = examine(folders, every_lease=not args.name)
    left = 0
    for finding in findings:
        if args.repair and finding.repair is not None:
            said = main_repair(finding)
            left += not said.startswith("repaired: ")
        else:
            said = finding.problem
            left += 1
        print(f"{finding.instance}: {said}")
    if not findings:
        count = f"{len(folders)} instance{'s' if len(folders) != 1 else ''}"
        print(f"All is well: {count} checked, nothing to fix.")
    return 1 if left else 0


def backup(args: argparse.Namespace) -> int:
    folder = find(args.name)
    if not folder.state_db.is_file():
        raise CommandError(f"{args.name} has no state.db yet, so there is nothing to back up.")
    try:
        if args.path is None:
            made = backups.make_backup(folder.state_db, "manual")
        else:
            target = Path(args.path).absolute()
            if target.is_dir():
                target = target / f"{folder.path.name}-{backups.stamp()}.db"
            made = backups.backup_to(folder.state_db, target)
    except FileExistsError:
        raise CommandError(f"{args.path} exists already; give a new file name (or a folder) for the backup.") from None
    except Damaged as exc:
        raise CommandError(
            f"state.db of {args.name} is damaged ({exc.reason}), so no backup was made; "
            f"run `murmuration doctor {args.name}`."
        ) from None
    except DiskFull as exc:
        raise CommandError(exc.message) from None
    except OSError as exc:
        raise CommandError(f"Could not write the backup: {exc.strerror or exc}.") from None
    print(f"Backed up {args.name} to {made}.")
    return 0


def restore(args: argparse.Namespace) -> int:
    folder = find(args.name)
    source = Path(args.backup).absolute()
    if not source.is_file():
        raise CommandError(f"{args.backup} is not a file; `ls {backups.backup_folder(folder.state_db)}` lists backups.")
    lock = FolderLock(folder.lock_file)
    try:
        lock.acquire()  # held throughout: no server can start on the folder while its store is swapped
    except FolderLocked:
        raise CommandError(f"{args.name} is running; stop it with `murmuration stop {args.name}` first.") from None
    try:
        kept = _restore(folder, source)
    finally:
        lock.release()
    print(f"Restored {args.name} from {source}; the store it replaced is kept as {kept}.")
    return 0


def _restore(folder: DataFolder, source: Path) -> Path:
    try:
        version = backups.schema_version(source)
        if not 0 < version <= len(MIGRATIONS):
            raise CommandError(
                f"{source} is not a Murmuration backup this release can use (schema {version}, it knows 1 to "
                f"{len(MIGRATIONS)})."
            )
        return backups.restore(folder.state_db, source)
    except Damaged as exc:
        raise CommandError(f"{source} is damaged ({exc.reason}); nothing was restored; pick another backup.") from None
    except DiskFull as exc:
        raise CommandError(f"{exc.message} Nothing was restored.") from None
    except (OSError, sqlite3.Error) as exc:
        raise CommandError(f"{source} could not be restored ({exc}); nothing was changed.") from None
