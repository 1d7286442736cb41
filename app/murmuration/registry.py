"""The instances on this machine: finding, creating and removing their data folders."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import unicodedata
from pathlib import Path

from murmuration.datafolder import DataFolder, DataFolderError, InstanceInfo, now_iso
from murmuration.home import instances_folder

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


def managed_folders() -> list[DataFolder]:
    """Every data folder under the base folder's `instances/`, oldest first."""
    root = instances_folder()
    if not root.is_dir():
        return []
    folders = [DataFolder(p) for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return sorted((f for f in folders if f.exists()), key=lambda f: f.path.name)


def readable(folder: DataFolder) -> InstanceInfo | None:
    try:
        return folder.read_info()
    except DataFolderError:
        return None


def find(name_or_id: str) -> DataFolder:
    """The instance whose id or name is `name_or_id` (an id wins); InstanceNotFound otherwise."""
    folders = managed_folders()
    for folder in folders:
        if folder.path.name == name_or_id:
            return folder
    for folder in folders:
        info = readable(folder)
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
    folder.path.mkdir(parents=True, exist_ok=True)
    project = folder.path.parent if folder.path.name == ".murmuration" else folder.path
    name = check_name(project.name or "instance")
    info = InstanceInfo(slug(name), name, now_iso(), str(cwd or project))
    folder.write_info(info)
    return folder


def remove(folder: DataFolder) -> None:
    shutil.rmtree(folder.path)
