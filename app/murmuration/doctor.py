"""`murmuration doctor`: what is wrong with an instance's data folder, and what to do about it.

Each check returns findings: one sentence saying what is wrong and what to do, and, where a fix is safe
(file modes, a stale runtime file, a damaged store with a good backup, a broken instance.json), the
repair that does it. A repair never deletes anything: what it replaces is renamed and kept beside it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sqlite3
import stat
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from murmuration import provenance, registry
from murmuration.atomicfile import write_json
from murmuration.core import backups
from murmuration.core.port_leases import PortLeases, list_leases
from murmuration.core.schema import MIGRATIONS
from murmuration.core.store import schema_problem
from murmuration.datafolder import DataFolder, DataFolderError, InstanceInfo, Runtime, now_iso, read_private_json
from murmuration.home import base_folder, instances_folder, projects_folder
from murmuration.lock import FolderLock, FolderLocked
from murmuration.privatefiles import FILE_MODE, POSIX, owner_is_us, wanted_mode, what
from murmuration.status import State, not_responding_message, ping, probe, process_create_time

LOW_SPACE = 100 * 1024 * 1024  # below this much free space, writes will soon fail
ACTIVE_STATES = ("starting", "running", "stopping")


@dataclass
class Finding:
    """One thing wrong: the sentence a person reads, and the safe repair when there is one."""

    instance: str
    problem: str
    # Does the repair and returns what it did, in one sentence.
    repair: Callable[[], str] | None = None


class Examination:
    """All checks of one data folder; `findings()` runs them in order."""

    def __init__(self, folder: DataFolder) -> None:
        self.folder = folder
        info = registry.readable(folder)
        self.label = info.id if info is not None else folder.path.name
        self.info = info
        self.running = False  # a live server owns the folder (answering or not)

    def findings(self) -> list[Finding]:
        found = [*self.identity(), *self.links_modes_owners(), *self.owner()]
        found += self.store()
        found += self.processes()
        found += self.disk()
        return found

    def finding(self, problem: str, repair: Callable[[], str] | None = None) -> Finding:
        return Finding(self.label, problem, repair)

    # --- instance.json ---------------------------------------------------------------------------------------

    def identity(self) -> list[Finding]:
        try:
            self.folder.read_info()
        except DataFolderError as exc:
            return [self.finding(str(exc), self.rebuild_info)]
        return []

    def rebuild_info(self) -> str:
        with self.locked():
            broken = self.folder.instance_file
            kept = broken.with_name(f"{broken.name}.broken-{backups.stamp()}")
            info = rebuilt_info(self.folder)
            if broken.exists() or broken.is_symlink():
                os.rename(broken, kept)
                if not kept.is_symlink():
                    os.chmod(kept, FILE_MODE)
            write_json(broken, asdict(info), mode=FILE_MODE)
        self.label = info.id
        return f"rebuilt instance.json (id {info.id}, name {info.name!r}); the broken one is kept as {kept.name}."

    # --- links, modes and owners -----------------------------------------------------------------------------

    def links_modes_owners(self) -> list[Finding]:
        """What a start would refuse or repair (privatefiles.py's rules), found without changing anything."""
        found: list[Finding] = []
        for path, st in walk(self.folder.path):
            if stat.S_ISLNK(st.st_mode):
                remade = path in (self.folder.token_file, self.folder.runtime_file)
                found.append(
                    self.finding(
                        f"{path} is a symbolic link, which Murmuration never follows; "
                        + (
                            "the next start puts a real file in its place."
                            if remade
                            else "put the real file (or folder) there in its place."
                        )
                    )
                )
                continue
            wanted = wanted_mode(st)
            if wanted is None:
                found.append(
                    self.finding(
                        f"{path} is {what(st)}, not a regular file; move it away so Murmuration can make its own."
                    )
                )
                continue
            if not owner_is_us(st):
                me = os.getuid()
                found.append(
                    self.finding(
                        f"{path} belongs to user {user_name(st.st_uid)}, not to you ({user_name(me)}); "
                        f"give it back with `chown {user_name(me)} {path}`."
                    )
                )
                continue
            mode = stat.S_IMODE(st.st_mode)
            if POSIX and mode != wanted:
                wrong = f"can be read by other users (mode {mode:04o})" if mode & 0o077 else f"has mode {mode:04o}"
                found.append(
                    self.finding(
                        f"{path} {wrong}; `murmuration doctor --repair` makes it {wanted:04o}.", _chmod(path, wanted)
                    )
                )
        return found

    # --- the server that owns it -----------------------------------------------------------------------------

    def owner(self) -> list[Finding]:
        status = probe(self.folder)
        runtime = status.runtime
        if status.state is State.STOPPED:
            return []
        if status.state is State.CRASHED:
            if self.lock_is_held():
                self.running = True  # a server is starting right now and has not written its runtime file yet
                return []
            pid = f" (pid {runtime.pid})" if runtime else ""
            return [
                self.finding(
                    f"runtime.json is left by a server that is gone{pid}; "
                    "`murmuration doctor --repair` moves it aside.",
                    self.move_runtime_aside,
                )
            ]
        assert runtime is not None
        answer = asyncio.run(ping(runtime))
        held = self.lock_is_held()
        if answer is not None and _is(answer, self.info, runtime):
            self.running = True
            return []
        if held:
            self.running = True
            if answer is None:
                name = self.info.name if self.info else self.label
                return [self.finding(not_responding_message(name, self.label, runtime.pid))]
        what = "does not answer" if answer is None else "answers as another instance"
        return [
            self.finding(
                f"runtime.json names pid {runtime.pid}, which {what} and does not hold this data folder: "
                "the file is stale or forged; `murmuration doctor --repair` moves it aside.",
                self.move_runtime_aside,
            )
        ]

    def move_runtime_aside(self) -> str:
        with self.locked():
            kept = self.folder.runtime_file.with_name(f"runtime.json.stale-{backups.stamp()}")
            os.rename(self.folder.runtime_file, kept)
        return f"moved the stale runtime.json aside to {kept.name}."

    # --- state.db --------------------------------------------------------------------------------------------

    def store(self) -> list[Finding]:
        state_db = self.folder.state_db
        if not state_db.exists():
            return []
        found = backups.problem(state_db)
        if found is None:
            version = backups.schema_version(state_db)
            if version > len(MIGRATIONS):
                return [
                    self.finding(
                        f"state.db was written by a newer Murmuration (schema {version}, this one knows "
                        f"{len(MIGRATIONS)}); update Murmuration to use this instance."
                    )
                ]
            # An older one is upgraded (and checked) by its next start; a current one must have our schema exactly.
            foreign = schema_problem_of(state_db) if version == len(MIGRATIONS) else None
            return [] if foreign is None else [self.finding(foreign)]
        start = f"state.db is damaged ({found})"
        good = self.newest_good_backup()
        if good is None:
            return [
                self.finding(
                    f"{start} and there is no good backup to restore; `sqlite3 {state_db} .recover` copies what "
                    "is still readable into a new database."
                )
            ]
        if self.running:
            return [
                self.finding(
                    f"{start}; stop it with `murmuration stop {self.label}`, then `murmuration doctor {self.label} "
                    f"--repair` restores the backup of {good.taken:%Y-%m-%d %H:%M} UTC (the damaged file is kept)."
                )
            ]
        return [
            self.finding(
                f"{start}; `murmuration doctor {self.label} --repair` restores the backup of "
                f"{good.taken:%Y-%m-%d %H:%M} UTC, keeping the damaged file beside it.",
                lambda: self.restore_backup(good),
            )
        ]

    def newest_good_backup(self) -> backups.Backup | None:
        for backup in backups.backups(backups.backup_folder(self.folder.state_db)):
            if backups.problem(backup.path) is None:
                return backup
        return None

    def restore_backup(self, backup: backups.Backup) -> str:
        with self.locked():
            kept = backups.restore(self.folder.state_db, backup.path, label="damaged")
        return f"restored state.db from {backup.path.name}; the damaged file is kept as {kept.name}."

    # --- processes it recorded -------------------------------------------------------------------------------

    def processes(self) -> list[Finding]:
        if self.running or not self.folder.state_db.exists():
            return []  # a running server is the authority on its processes
        try:
            rows = active_processes(self.folder.state_db)
        except sqlite3.Error:
            return []  # a damaged or foreign store has been reported above
        found = []
        for process_id, title, pid, pid_started in rows:
            alive = pid is not None and pid_started is not None and process_create_time(pid) == pid_started
            if alive:
                problem = (
                    f"process {title!r} ({process_id}, pid {pid}) still runs although its instance stopped; "
                    f"`murmuration start {self.label}` ends it and queues it again."
                )
            else:
                problem = (
                    f"process {title!r} ({process_id}) is recorded as running but is gone; "
                    f"`murmuration start {self.label}` records it as interrupted."
                )
            found.append(self.finding(problem))
        return found

    # --- room on its disk ------------------------------------------------------------------------------------

    def disk(self) -> list[Finding]:
        try:
            free = shutil.disk_usage(self.folder.path).free
        except OSError:
            return []
        if free >= LOW_SPACE:
            return []
        return [
            self.finding(
                f"the disk holding {self.folder.path} has only {free / 1e6:.1f} MB free, and writes fail when it is "
                "full; free some space on it."
            )
        ]

    # --- helpers ---------------------------------------------------------------------------------------------

    def lock_is_held(self) -> bool:
        """True when some live process holds the folder's lock (taken and let go at once to find out)."""
        try:
            with FolderLock(self.folder.lock_file):
                return False
        except FolderLocked:
            return True
        except OSError:
            return False

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the folder's lock for a repair, so no server starts on it meanwhile."""
        lock = FolderLock(self.folder.lock_file)
        try:
            lock.acquire()
        except FolderLocked:
            raise RepairRefused(
                f"{self.label} is running, so this was not repaired; stop it with `murmuration stop {self.label}` "
                "and run the doctor again."
            ) from None
        try:
            yield
        finally:
            lock.release()


class RepairRefused(Exception):
    """A repair that is not safe right now; the message says why and what to do."""


def _is(answer: dict[str, object], info: InstanceInfo | None, runtime: Runtime) -> bool:
    """True when a ping's answer comes from this very instance's server."""
    return answer.get("pid") == runtime.pid and (info is None or answer.get("instance") == info.id)


def _chmod(path: Path, mode: int) -> Callable[[], str]:
    def repair() -> str:
        os.chmod(path, mode)  # never a link: links are reported, not repaired
        return f"made {path} {mode:04o}."

    return repair


def walk(root: Path) -> Iterator[tuple[Path, os.stat_result]]:
    """Every entry in `root` (itself first) with its lstat: links are reported, never followed."""
    try:
        yield root, os.lstat(root)
    except FileNotFoundError:
        return
    if not root.is_dir() or root.is_symlink():
        return
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath) / name
            with contextlib.suppress(FileNotFoundError):  # gone meanwhile (a log rotated): nothing to check
                yield path, os.lstat(path)


def user_name(uid: int | None) -> str:
    if uid is None:
        return "?"
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return str(uid)


def active_processes(state_db: Path) -> list[tuple[str, str, int | None, float | None]]:
    """The processes state.db records as starting, running or stopping (read-only)."""
    db = sqlite3.connect(f"{state_db.absolute().as_uri()}?mode=ro", uri=True)
    try:
        marks = ", ".join("?" for _ in ACTIVE_STATES)
        rows = db.execute(
            f"SELECT id, title, pid, pid_started FROM processes WHERE state IN ({marks}) ORDER BY seq", ACTIVE_STATES
        ).fetchall()
    finally:
        db.close()
    return [(str(r[0]), str(r[1]), r[2], r[3]) for r in rows]


def schema_problem_of(state_db: Path) -> str | None:
    """What a start would refuse in the schema of `state_db` (read-only), or None."""
    db = sqlite3.connect(f"{state_db.absolute().as_uri()}?mode=ro", uri=True)
    try:
        return schema_problem(db, state_db, MIGRATIONS)
    except sqlite3.Error:
        return None  # unreadable: the integrity check above has said so
    finally:
        db.close()


def rebuilt_info(folder: DataFolder) -> InstanceInfo:
    """An instance.json for `folder` from what its broken one still holds, the rest as the registry makes it."""
    try:
        raw = read_private_json(folder.instance_file) or {}
    except DataFolderError:
        raw = {}  # a link, a FIFO or another user's file: nothing of it is read

    def text(key: str) -> str | None:
        value = raw.get(key)
        return value if isinstance(value, str) and value.strip() else None

    # Folders of instances/ and projects/ are named by their id; one given with --data-dir by its project.
    managed = folder.path.absolute().parent in (instances_folder(), projects_folder())
    project = folder.path.parent if folder.path.name == registry.LEGACY_PROJECT_FOLDER else folder.path
    name = text("name") or (folder.path.name if managed else project.name or "instance")
    instance_id = folder.path.name if managed else text("id") or registry.slug(name)
    port = raw.get("last_port")
    info = InstanceInfo(
        id=instance_id,
        name=name,
        created_at=text("created_at") or now_iso(),
        cwd=text("cwd") or str(Path.home() if managed else project),
        last_port=port if isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536 else None,
        autostart=raw.get("autostart") is True,
    )
    # The old seal carries over only when it is this user's for this folder and id: a rebuild never makes a
    # found folder look like one of ours (unsealed, its next start treats it as found, which loses nothing).
    sealed = replace(info, seal=text("seal") or "")
    return sealed if sealed.seal and provenance.made_here(folder, sealed) else info


def examine(folders: list[DataFolder], every_lease: bool = False) -> list[Finding]:
    """Every finding in `folders`, folder by folder, then the leftover port leases of their instances.

    With `every_lease`, the leftovers of every instance are reported, those of instances gone since too.
    """
    examinations = [Examination(folder) for folder in folders]
    found = [finding for examination in examinations for finding in examination.findings()]
    names = None if every_lease else {e.info.name for e in examinations if e.info is not None}
    return found + leftover_leases(names)


def leftover_leases(names: set[str] | None) -> list[Finding]:
    """Port leases whose server is gone (of the instances named, or all): they hold a port nobody uses."""
    found = []
    for lease in list_leases(base_folder()):
        if lease["holder_alive"] or (names is not None and lease["instance"] not in names):
            continue
        found.append(
            Finding(
                str(lease["instance"]),
                f"port {lease['port']} is still leased to process {lease['process_id']} ({lease['title'][:80]!r}) "
                f"though the server that leased it (pid {lease['holder_pid']}) is gone; "
                "`murmuration doctor --repair` gives the port back (so does the next lease any server takes).",
                _free_dead_leases,
            )
        )
    return found


def _free_dead_leases() -> str:
    # The table drops the leases of dead servers whenever it is read under its lock, and writes itself back.
    PortLeases(base_folder(), instance="doctor").holder_of(0)
    return "gave back the ports leased by servers that are gone."


def main_repair(finding: Finding) -> str:
    """Run a finding's repair; the sentence to print (what was done, or why it was not)."""
    assert finding.repair is not None
    try:
        return f"repaired: {finding.repair()}"
    except RepairRefused as exc:
        return str(exc)
    except OSError as exc:
        return f"could not repair this ({exc.strerror or exc}); {finding.problem}"
