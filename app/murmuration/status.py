"""Whether an instance runs: read from its runtime file and checked against the live process."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import psutil

from murmuration.datafolder import DataFolder, Runtime


class State(enum.StrEnum):
    RUNNING = "running"
    STOPPED = "stopped"
    # A runtime file left by a server that died without cleaning up (kill -9, power loss).
    STALE = "stale"


@dataclass
class InstanceStatus:
    state: State
    runtime: Runtime | None


def process_create_time(pid: int) -> float | None:
    """When the OS started process `pid`, or None when there is no such process."""
    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.Error, ValueError, OverflowError):
        return None


def is_alive(runtime: Runtime) -> bool:
    """True when runtime's pid still names the process that wrote it (a reused pid does not)."""
    started = process_create_time(runtime.pid)
    return started is not None and abs(started - runtime.create_time) < 0.01


def probe(folder: DataFolder) -> InstanceStatus:
    """The instance's state without touching its lock, so a server starting right now is never disturbed."""
    runtime = folder.read_runtime()
    if runtime is None:
        if folder.runtime_file.exists():
            return InstanceStatus(State.STALE, None)
        return InstanceStatus(State.STOPPED, None)
    return InstanceStatus(State.RUNNING if is_alive(runtime) else State.STALE, runtime)
