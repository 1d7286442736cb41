"""Which instance a bridge serves: a named one, a data folder, or by default the project's own instance.

The project's own instance lives in the user's base folder (`registry.open_project`), never in the project.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

from murmuration import registry
from murmuration.datafolder import DataFolder


class NoSuchInstance(Exception):
    """The instance the bridge was told to serve does not exist; the message says what to do."""


def project_root(cwd: Path) -> Path:
    """The root of the git work tree holding `cwd`, or `cwd` itself outside of one.

    The search never goes up into a folder that another user owns or may write to: a `.git` planted in /tmp by
    someone else would otherwise make every folder below it one project, all served by one instance.
    """
    cwd = cwd.absolute()
    for folder in (cwd, *cwd.parents):
        if not only_we_write(folder):
            break
        # `.git` is a folder in a clone and a file in a worktree or submodule; both mark a work tree's root.
        if (folder / ".git").exists():
            return folder
    return cwd


def only_we_write(folder: Path) -> bool:
    """Whether no user but this one (or root) can have made what is in `folder`: it is ours or root's, and no one
    else may write to it (a group-writable folder passes only when its group is its owner's private group)."""
    if sys.platform == "win32":
        return True  # permissions are ACLs there, and a user's folders are not open to others by default
    try:
        status = folder.stat()
    except OSError:
        return False
    if status.st_uid not in (os.geteuid(), 0) or status.st_mode & stat.S_IWOTH:
        return False
    return not status.st_mode & stat.S_IWGRP or _private_group(status.st_gid, status.st_uid)


def _private_group(gid: int, uid: int) -> bool:
    """Whether group `gid` is user `uid`'s own group (same name, no other members), as many systems make one."""
    import grp
    import pwd

    try:
        group, user = grp.getgrgid(gid), pwd.getpwuid(uid)
    except KeyError:
        return False
    return group.gr_name == user.pw_name and set(group.gr_mem) <= {user.pw_name}


def bridge_folder(instance: str | None, data_dir: str | None, cwd: Path) -> DataFolder:
    """The data folder of the instance a bridge serves, created and registered when it is a new project's."""
    if instance is not None:
        try:
            return registry.find(instance)
        except registry.InstanceNotFound:
            raise NoSuchInstance(
                f"No instance is named {instance!r}; `murmuration ls` lists them and `murmuration new` makes one."
            ) from None
    if data_dir is not None:
        path = Path(data_dir)
        folder = registry.open_data_dir(path if path.is_absolute() else cwd / path)
        registry.register(folder)  # so `ls` and the tray list the folder an agent is using
        return folder
    return registry.open_project(project_root(cwd))
