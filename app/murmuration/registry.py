"""The instances on this machine: finding, creating and removing their data folders.

Every data folder Murmuration makes lives in the user's base folder: `<base>/instances/<id>/` for the ones the
tray or `murmuration new` create, `<base>/projects/<slug>-<hash>/` for a project's own instance (the one
`murmuration mcp` serves in it). Nothing inside a project is ever read as instance state: a repository is not
trusted. A data folder given with `--data-dir` can be anywhere; it is registered in the base folder (one small file
per folder under `<base>/registered/`) so it is listed and found like the others.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import tempfile
import unicodedata
from dataclasses import asdict, replace
from pathlib import Path

from murmuration import provenance
from murmuration.atomicfile import read_json_object, write_json
from murmuration.datafolder import DataFolder, DataFolderError, InstanceInfo, now_iso
from murmuration.home import base_folder, instances_folder, projects_folder
from murmuration.privatefiles import check_ancestors, private_folder

log = logging.getLogger("murmuration.registry")
LEGACY_PROJECT_FOLDER = ".murmuration"

MAX_NAME = 80


class InstanceNotFound(LookupError):
    """No instance has that name or id."""


class InstanceExists(Exception):
    """An instance with that name or id is already there."""


def check_name(name: str) -> str:
    """The name, trimmed, or ValueError with a sentence saying what a name may be."""
    name = name.strip()
    if not name:
        raise ValueError("An instance name cannot be empty.")
    if len(name) > MAX_NAME:
        raise ValueError(f"An instance name can have at most {MAX_NAME} characters.")
    if any(unicodedata.category(c).startswith("C") for c in name):
        raise ValueError("An instance name cannot contain control characters.")
    return name


def check_cwd(path: Path) -> Path:
    """The project folder an instance's processes run in, absolute, or ValueError saying what to give instead."""
    path = path.expanduser().absolute()
    if not path.is_dir():
        raise ValueError(f"{path} is not a folder; choose an existing folder for the instance's processes.")
    return path


def set_cwd(folder: DataFolder, cwd: Path) -> Path:
    """Make `cwd` the instance's project folder (its processes start there from its next start); returns it."""
    cwd = check_cwd(cwd)
    folder.write_info(replace(folder.read_info(), cwd=str(cwd)))
    return cwd


def slug(name: str) -> str:
    """A short, url- and path-safe id derived from a name ("Instance 2" → "instance-2")."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    text = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:40].strip("-")
    return text or "instance"


def registered_root() -> Path:
    """The folder of registration files, one per data folder kept outside `instances/`."""
    return base_folder() / "registered"


def _registration_file(path: Path) -> Path:
    # Named after the folder's path, so registering a folder twice, or from two processes at once, writes
    # the same file with the same content: no lock needed, and no two folders share a file.
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:24]
    return registered_root() / f"{digest}.json"


def register(folder: DataFolder) -> None:
    """Make a data folder outside `instances/` known to `ls`, `find` and the tray (idempotent)."""
    if folder.path.absolute().parent in (instances_folder(), projects_folder()):
        return
    entry = _registration_file(folder.path)
    path = str(folder.path.resolve())
    known = read_json_object(entry)
    if known is not None and known.get("path") == path:
        return
    private_folder(base_folder())
    private_folder(entry.parent)
    write_json(entry, {"path": path})


def unregister(folder: DataFolder) -> None:
    """Forget a registered data folder (nothing happens for one that is not registered)."""
    _registration_file(folder.path).unlink(missing_ok=True)


def _folders_in(root: Path) -> list[DataFolder]:
    if not root.is_dir():
        return []
    folders = [DataFolder(p) for p in root.iterdir() if p.is_dir() and not p.is_symlink() and p.name[:1] != "."]
    return sorted((f for f in folders if f.exists()), key=lambda f: f.path.name)


def _instance_folders() -> list[DataFolder]:
    """The data folders in the base folder, by id: the tray's and `new`'s first, then the projects'."""
    return _folders_in(instances_folder()) + _folders_in(projects_folder())


def registered_folders() -> list[DataFolder]:
    """The registered data folders that still hold an instance, by path (vanished projects are skipped)."""
    root = registered_root()
    if not root.is_dir():
        return []
    paths: set[Path] = set()
    for entry in root.glob("*.json"):
        raw = read_json_object(entry)
        path = raw.get("path") if raw is not None else None
        if isinstance(path, str) and os.path.isabs(path):
            paths.add(Path(path))
    return [f for f in (DataFolder(p) for p in sorted(paths)) if f.exists()]


def managed_folders() -> list[DataFolder]:
    """Every instance on this machine: those in the base folder by id, then the registered ones by path."""
    return _instance_folders() + registered_folders()


def readable(folder: DataFolder) -> InstanceInfo | None:
    try:
        return folder.read_info()
    except DataFolderError:
        return None


def find(name_or_id: str) -> DataFolder:
    """The instance whose id or name is `name_or_id` (an id wins); InstanceNotFound otherwise."""
    folders = _instance_folders()
    for folder in folders:
        if folder.path.name == name_or_id:
            return folder
    infos = [(folder, readable(folder)) for folder in registered_folders()]
    for folder, info in infos:
        if info is not None and info.id == name_or_id:
            return folder
    for folder, info in [*((f, readable(f)) for f in folders), *infos]:
        if info is not None and info.name == name_or_id:
            return folder
    raise InstanceNotFound(name_or_id)


def create(name: str, cwd: Path) -> DataFolder:
    """A new instance's data folder, claimed atomically so two creators never share one."""
    name = check_name(name)
    try:
        find(name)
    except InstanceNotFound:
        pass
    else:
        raise InstanceExists(name)
    root = instances_folder()
    private_folder(base_folder())
    private_folder(root)
    base = slug(name)
    staging = Path(tempfile.mkdtemp(prefix=".new-", dir=root))
    try:
        for n in range(1, 1000):
            instance_id = base if n == 1 else f"{base}-{n}"
            # Sealed for the folder it is renamed to, so its first start knows this user made it.
            info = InstanceInfo(instance_id, name, now_iso(), str(cwd))
            DataFolder(staging).write_info(
                replace(info, seal=provenance.seal_of(DataFolder(root / instance_id), instance_id))
            )
            try:
                # A rename onto an existing (non-empty) folder fails: whoever renames first owns the id.
                os.rename(staging, root / instance_id)
            except OSError:
                taken = readable(DataFolder(root / instance_id))
                if taken is not None and taken.name == name:
                    raise InstanceExists(name) from None
                continue
            return DataFolder(root / instance_id)
        raise InstanceExists(name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def open_data_dir(path: Path, cwd: Path | None = None) -> DataFolder:
    """The data folder at `path` (anywhere the user names), made into an instance when it is not one yet.

    A folder made here is sealed as this user's; one that already held an instance keeps what it has, and its
    server decides on its first start whether it was made here (provenance.py).
    """
    folder = DataFolder(path.absolute())
    check_ancestors(folder.path)
    if folder.exists():
        return folder
    private_folder(folder.path)
    # An earlier version kept a project's data in `<project>/.murmuration/`: such a folder is named after its project.
    named = folder.path.parent if folder.path.name == LEGACY_PROJECT_FOLDER else folder.path
    name = check_name(named.name or "instance")
    _create_exclusively(folder, InstanceInfo(slug(name), name, now_iso(), str(cwd or named)))
    return folder


def project_id(name: str, path: Path) -> str:
    """An id unique to a folder: its name's slug and a short hash of its real path (two `app` projects differ)."""
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:8]
    return f"{slug(name)[:31].strip('-')}-{digest}"


def project_folder(project: Path) -> DataFolder:
    """Where the instance of the project at `project` keeps its data (whether or not it exists yet)."""
    project = project.absolute()
    return DataFolder(projects_folder() / project_id(check_name(project.name or "instance"), project))


def open_project(project: Path) -> DataFolder:
    """The instance of the project at `project`, in `<base>/projects/`: made once, its processes run in `project`.

    A `.murmuration/` folder inside the project is never read — unless this user's earlier Murmuration made and
    registered it there, in which case it is moved into the base folder once (and treated as found: its queued
    work is set aside, its token replaced). Two agents starting in one project at the same moment both end up with
    the one instance the first of them made.
    """
    project = project.absolute()
    name = check_name(project.name or "instance")
    folder = project_folder(project)
    if folder.exists():
        return folder
    private_folder(base_folder())
    private_folder(projects_folder())
    legacy = project / LEGACY_PROJECT_FOLDER
    if _move_legacy(legacy, folder):
        return folder
    private_folder(folder.path)
    _create_exclusively(folder, InstanceInfo(folder.path.name, name, now_iso(), str(project)))
    return folder


def _move_legacy(legacy: Path, folder: DataFolder) -> bool:
    """Move an earlier version's in-project data folder into the base folder, when it is ours and registered."""
    if not os.path.lexists(legacy):
        return False
    entry = read_json_object(_registration_file(legacy)) if not legacy.is_symlink() else None
    ours = entry is not None and entry.get("path") == str(legacy.resolve()) and DataFolder(legacy).exists()
    if not ours:
        log.warning("ignored %s: Murmuration never reads instance state from inside a project", legacy)
        return False
    try:
        os.rename(legacy, folder.path)  # onto a missing name only; a failure leaves both where they are
    except OSError as exc:
        log.warning("could not move %s into %s (%s): it stays where it is and is not used", legacy, folder.path, exc)
        return False
    _registration_file(legacy).unlink(missing_ok=True)
    info = folder.read_info()
    folder.write_info(replace(info, id=folder.path.name, seal=""))
    log.info("moved this project's data folder from %s into %s", legacy, folder.path)
    return True


def _create_exclusively(folder: DataFolder, info: InstanceInfo) -> None:
    """Write a sealed `instance.json` whole unless one exists: a link onto a taken name fails, so the first wins."""
    path = folder.instance_file
    value = asdict(replace(info, seal=provenance.seal_of(folder, info.id)))
    staging = path.with_name(f".{path.name}.{os.getpid()}.new")
    write_json(staging, value)
    try:
        os.link(staging, path)
    except FileExistsError:
        pass
    except OSError:  # a file system without hard links: a rename is atomic too, only not exclusive
        if not path.exists():
            os.replace(staging, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(staging)


def remove(folder: DataFolder) -> None:
    unregister(folder)
    shutil.rmtree(folder.path)
