"""Whether an instance runs: read from its runtime file, checked against the live process and, where it
matters, an authenticated ping.

These states and their words are the one vocabulary of `ls`, `start`, `doctor` and the tray.
"""

from __future__ import annotations

import asyncio
import enum
import os
from dataclasses import dataclass
from typing import Any

import psutil

from murmuration.datafolder import DataFolder, DataFolderError, Runtime


class State(enum.StrEnum):
    """Whether an instance runs, in the words `ls` prints and the tray shows (capitalised, see `label`)."""

    RUNNING = "running"
    STOPPED = "stopped"
    # Its server ended without stopping (kill -9, a crash, power loss): its runtime file is left behind.
    CRASHED = "crashed"
    # Its process lives (and holds the data folder) but does not answer a ping within PING_TIMEOUT: stopped by
    # SIGSTOP or a debugger, or stuck on a hung disk.
    NOT_RESPONDING = "not responding"

    @property
    def label(self) -> str:
        """The state as a menu, a table or a sentence's start shows it."""
        return self.value.capitalize()


PING_TIMEOUT = 3.0  # seconds a live server has to answer an authenticated ping


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
    """True when runtime's pid still names the live server that wrote it: same start time (a reused pid differs),
    not ended (a zombie serves nothing), and run by this user (another user's process that a planted
    runtime.json names is never believed)."""
    started = process_create_time(runtime.pid)
    if started is None or abs(started - runtime.create_time) >= 0.01:
        return False
    try:
        process = psutil.Process(runtime.pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False  # it has ended; only its exit status waits to be collected by its parent
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
            return InstanceStatus(State.CRASHED, None)
        return InstanceStatus(State.STOPPED, None)
    return InstanceStatus(State.RUNNING if is_alive(runtime) else State.CRASHED, runtime)


async def ping(runtime: Runtime, timeout: float = PING_TIMEOUT) -> dict[str, Any] | None:
    """The answer of the server at `runtime` to `ping` with its own token (who it is), or None within `timeout`."""
    from murmuration.client import InstanceClient, InstanceUnavailable, RpcError  # websockets only when pinging

    async def ask() -> Any:
        async with await InstanceClient.connect(runtime.url, runtime.token, timeout=timeout) as client:
            return await client.call("ping")

    try:
        # One deadline for all of it: a frozen server accepts the TCP connection and then says nothing.
        answer = await asyncio.wait_for(ask(), timeout)
    except (InstanceUnavailable, RpcError, OSError, TimeoutError):
        return None
    return answer if isinstance(answer, dict) else None


async def check(folder: DataFolder, timeout: float = PING_TIMEOUT) -> InstanceStatus:
    """`probe`, and for a live server an authenticated ping: one that does not answer is NOT_RESPONDING."""
    status = probe(folder)
    if status.state is State.RUNNING and status.runtime is not None and await ping(status.runtime, timeout) is None:
        return InstanceStatus(State.NOT_RESPONDING, status.runtime)
    return status


def not_responding_message(name: str, instance_id: str, pid: int) -> str:
    """What `start` and `doctor` say about a frozen owner, pointing at the way out."""
    return (
        f"{name} is not responding: its server (pid {pid}) holds the data folder but does not answer within "
        f"{PING_TIMEOUT:.0f} s; end it with `murmuration stop {instance_id}` (see `murmuration doctor {instance_id}`)."
    )


def _made_here(folder: DataFolder) -> bool:
    from murmuration import provenance  # its key lives in the base folder: read only when a runtime.json is there

    try:
        return provenance.made_here(folder, folder.read_info())
    except (DataFolderError, OSError):
        return False
