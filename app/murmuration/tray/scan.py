"""One look at every instance on disk: registry listing, status probe and the live process (blocking I/O).

The model runs `scan()` in a worker thread and applies its result in the GUI thread.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import psutil

from murmuration import registry
from murmuration.datafolder import DataFolder, InstanceInfo, Runtime
from murmuration.home import instances_folder, projects_folder
from murmuration.status import State, probe


@dataclass(frozen=True)
class Observation:
    """What one data folder says right now."""

    folder: DataFolder
    info: InstanceInfo | None
    alive: bool
    # A runtime.json is left while nothing serves the folder: its server died without cleaning up.
    stale: bool
    runtime: Runtime | None
    memory: int | None = None
    # The exit status of a server that was our own child and has just been reaped (None when unknown).
    exit_status: int | None = None

    @property
    def key(self) -> str:
        """The instance's id, or its folder's name while instance.json is unreadable."""
        return self.info.id if self.info is not None else self.folder.path.name


def scan(memory: bool = True) -> list[Observation]:
    """Every instance this machine knows, in the registry's order (with its server's memory when `memory`)."""
    return [observe(folder, memory) for folder in registry.managed_folders()]


def watched_paths(folders: list[DataFolder]) -> list[Path]:
    """What to watch so that every change `scan` would see is announced: the registry's folders (or, until one
    exists, the nearest folder above it), each data folder (runtime.json comes and goes there) and each
    instance.json (edited in place)."""
    paths = [_nearest_existing(p) for p in (instances_folder(), projects_folder(), registry.registered_root())]
    for folder in folders:
        paths += [folder.path, folder.instance_file]
    return paths


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def sample_memory(pids: list[int]) -> dict[int, int]:
    """The resident memory of each live process among `pids` (those gone are left out)."""
    sizes: dict[int, int] = {}
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            sizes[pid] = int(psutil.Process(pid).memory_info().rss)
    return sizes


def observe(folder: DataFolder, memory: bool = True) -> Observation:
    """One folder's identity and state; a server that is a zombie child of ours counts as dead (and is reaped)."""
    info = registry.readable(folder)
    status = probe(folder)
    runtime = status.runtime
    if status.state is not State.RUNNING or runtime is None:
        return Observation(folder, info, alive=False, stale=status.state is State.CRASHED, runtime=None)
    try:
        process = psutil.Process(runtime.pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return Observation(folder, info, False, True, None, exit_status=reap(runtime.pid))
        rss = int(process.memory_info().rss) if memory else None
    except psutil.Error:
        return Observation(folder, info, alive=False, stale=True, runtime=None)
    return Observation(folder, info, alive=True, stale=False, runtime=runtime, memory=rss)


def reap(pid: int) -> int | None:
    """Collect a dead child of this process (a server the tray started) and return its exit status."""
    if not hasattr(os, "waitpid") or not hasattr(os, "WNOHANG"):
        return None
    with contextlib.suppress(ChildProcessError, OSError):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return os.waitstatus_to_exitcode(status)
    return None
