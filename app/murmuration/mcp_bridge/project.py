"""Which instance a bridge serves: a named one, a data folder, or by default the project's own instance.

The project's own instance lives in the user's base folder (`registry.open_project`), never in the project.
"""

from __future__ import annotations

from pathlib import Path

from murmuration import registry
from murmuration.datafolder import DataFolder


class NoSuchInstance(Exception):
    """The instance the bridge was told to serve does not exist; the message says what to do."""


def project_root(cwd: Path) -> Path:
    """The root of the git work tree holding `cwd`, or `cwd` itself outside of one."""
    cwd = cwd.absolute()
    for folder in (cwd, *cwd.parents):
        # `.git` is a folder in a clone and a file in a worktree or submodule; both mark a work tree's root.
        if (folder / ".git").exists():
            return folder
    return cwd


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
