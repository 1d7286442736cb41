"""Where instances live on this machine: the base folder and its layout."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

HOME_ENV = "MURMURATION_HOME"


def base_folder() -> Path:
    """The base folder: `MURMURATION_HOME` when set, else the platform's user data folder."""
    override = os.environ.get(HOME_ENV)
    if override:
        return Path(override).expanduser().absolute()
    return Path(platformdirs.user_data_dir("Murmuration", appauthor=False))


def instances_folder() -> Path:
    """The folder holding one data folder per instance created by the tray or `murmuration new`."""
    return base_folder() / "instances"


def projects_folder() -> Path:
    """The folder holding one data folder per project whose agents run `murmuration mcp` in it."""
    return base_folder() / "projects"
