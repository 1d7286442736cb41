"""The instances on this machine: finding, creating and removing their data folders.

Most live under `<base>/instances/<id>/`. A project instance keeps its data folder in its project and is
registered in the base folder (one small file per folder under `<base>/registered/`) so it is listed and found
like the others.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
import unicodedata
from dataclasses import asdict
from pathlib import Path

from murmuration.atomicfile import read_json_object, write_atomic, write_json
from murmuration.datafolder import DataFolder, DataFolderError, InstanceInfo, now_iso
from murmuration.home import base_folder, instances_folder

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
    if folder.path.absolute().parent == instances_folder():
        return
    entry = _registration_file(folder.path)
    path = str(folder.path.resolve())
    known = read_json_object(entry)
    if known is not None and known.get("path") == path:
        return
    entry.parent.mkdir(parents=True, exist_ok=True)
    write_json(entry, {"path": path}, mode=0o644)


def unregister(folder: DataFolder) -> None:
    """Forget a registered data folder (nothing happens for one that is not registered)."""
    _registration_file(folder.path).unlink(missing_ok=True)


def _instance_folders() -> list[DataFolder]:
    root = instances_folder()
    if not root.is_dir():
        return []
    folders = [DataFolder(p) for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return sorted((f for f in folders if f.exists()), key=lambda f: f.path.name)


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
    """Every instance on this machine: those under `instances/` by id, then the registered ones by path."""
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
    root.mkdir(parents=True, exist_ok=True)
    base = slug(name)
    staging = Path(tempfile.mkdtemp(prefix=".new-", dir=root))
    try:
        for n in range(1, 1000):
            instance_id = base if n == 1 else f"{base}-{n}"
            DataFolder(staging).write_info(InstanceInfo(instance_id, name, now_iso(), str(cwd)))
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
    """The data folder at `path`, made into an instance (named after its project) when it is not one yet."""
    folder = DataFolder(path.absolute())
    if folder.exists():
        return folder
    folder.path.mkdir(mode=0o700, parents=True, exist_ok=True)
    project = folder.path.parent if folder.path.name == ".murmuration" else folder.path
    name = check_name(project.name or "instance")
    info = InstanceInfo(slug(name), name, now_iso(), str(cwd or project))
    folder.write_info(info)
    return folder


def project_id(name: str, path: Path) -> str:
    """An id unique to a project folder: its name's slug and a short hash of its path.

    Two projects called `app` get two ids, and so two session cookies (their name carries the id).
    """
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:8]
    return f"{slug(name)[:31].strip('-')}-{digest}"


def open_project(path: Path, cwd: Path | None = None) -> DataFolder:
    """The project instance whose data folder is `path`: created once (id from `project_id`) and registered.

    Two agents starting in one project at the same moment both end up with the one instance.json the first
    of them wrote.
    """
    folder = DataFolder(path.absolute())
    if not folder.exists():
        folder.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        # The folder holds the instance's secret token and database: keep it out of the project's commits.
        ignore = folder.path / ".gitignore"
        if not ignore.exists():
            write_atomic(
                ignore, b"# Murmuration's data for this project (state, logs, secret token): not for git.\n*\n", 0o600
            )
        project = folder.path.parent if folder.path.name == ".murmuration" else folder.path
        name = check_name(project.name or "instance")
        info = InstanceInfo(project_id(name, folder.path), name, now_iso(), str(cwd or project))
        _create_exclusively(folder.instance_file, asdict(info))
    register(folder)
    return folder


def _create_exclusively(path: Path, value: dict[str, object]) -> None:
    """Write `path` whole unless it exists already: a link onto an existing name fails, so the first wins."""
    staging = path.with_name(f".{path.name}.{os.getpid()}.new")
    write_atomic(staging, (json.dumps(value, indent=2, sort_keys=True) + "\n").encode(), mode=0o600)
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
