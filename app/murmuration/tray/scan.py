"""One look at every instance on disk: registry listing, status probe and the live process (blocking I/O).

The model runs `scan()` in a worker thread and applies its result in the GUI thread.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import psutil

from murmuration import registry
from murmuration.datafolder import DataFolder, InstanceInfo, Runtime
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


def scan() -> list[Observation]:
    """Every instance this machine knows, in the registry's order."""
    return [observe(folder) for folder in registry.managed_folders()]


def observe(folder: DataFolder) -> Observation:
    """One folder's identity and state; a server that is a zombie child of ours counts as dead (and is reaped)."""
    info = registry.readable(folder)
    status = probe(folder)
    runtime = status.runtime
    if status.state is not State.RUNNING or runtime is None:
        return Observation(folder, info, alive=False, stale=status.state is State.STALE, runtime=None)
    try:
        process = psutil.Process(runtime.pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return Observation(folder, info, False, True, None, exit_status=reap(runtime.pid))
        memory = int(process.memory_info().rss)
    except psutil.Error:
        return Observation(folder, info, alive=False, stale=True, runtime=None)
    return Observation(folder, info, alive=True, stale=False, runtime=runtime, memory=memory)


def reap(pid: int) -> int | None:
    """Collect a dead child of this process (a server the tray started) and return its exit status."""
    if not hasattr(os, "waitpid") or not hasattr(os, "WNOHANG"):
        return None
    with contextlib.suppress(ChildProcessError, OSError):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return os.waitstatus_to_exitcode(status)
    return None
