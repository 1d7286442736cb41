"""Whether an instance runs: read from its runtime file and checked against the live process."""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass

import psutil

from murmuration.datafolder import DataFolder, DataFolderError, Runtime


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
    """True when runtime's pid still names the server that wrote it: same start time (a reused pid differs), and
    run by this user (another user's process that a planted runtime.json names is never believed)."""
    started = process_create_time(runtime.pid)
    if started is None or abs(started - runtime.create_time) >= 0.01:
        return False
    try:
        process = psutil.Process(runtime.pid)
        return not hasattr(os, "getuid") or process.uids().real == os.getuid()
    except psutil.Error:
        return False


def probe(folder: DataFolder) -> InstanceStatus:
    """The instance's state without touching its lock, so a server starting right now is never disturbed."""
    runtime = folder.read_runtime()
    if runtime is not None and not _made_here(folder):
        runtime = None  # a runtime.json that came with a folder found elsewhere: none of our servers wrote it
    if runtime is None:
        if folder.runtime_file.exists():
            return InstanceStatus(State.STALE, None)
        return InstanceStatus(State.STOPPED, None)
    return InstanceStatus(State.RUNNING if is_alive(runtime) else State.STALE, runtime)


def _made_here(folder: DataFolder) -> bool:
    from murmuration import provenance  # its key lives in the base folder: read only when a runtime.json is there

    try:
        return provenance.made_here(folder, folder.read_info())
    except (DataFolderError, OSError):
        return False
