"""The reaper: a small watchdog process that ends an instance's process groups when the instance dies.

A parent-death signal reaches only a direct child, not the grandchild a shell started. So the server
tells the reaper each process group it starts (over a pipe) and the reaper, on seeing that pipe close —
which the OS does when the server dies, however it dies —, terminates every group still recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Iterable, Sequence
from typing import IO

GRACE = 0.7  # seconds between TERM and KILL; the whole clean-up stays well under two seconds


def end_group(pgid: int, grace: float = GRACE) -> None:
    """TERM a process group (Windows: the process tree), then KILL whatever is left of it after `grace` seconds."""
    end_groups([pgid], grace)


def end_groups(pgids: Iterable[int], grace: float = GRACE) -> None:
    """End many groups in parallel: TERM to all, one shared grace period, then KILL to the ones left."""
    if sys.platform == "win32":
        _end_trees(list(pgids), grace)
        return
    alive = []
    for pgid in pgids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGTERM)
            alive.append(pgid)
    deadline = time.monotonic() + grace
    while alive and time.monotonic() < deadline:
        time.sleep(0.02)
        alive = [pgid for pgid in alive if _group_exists(pgid)]
    for pgid in alive:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)


def _group_exists(pgid: int) -> bool:
    if sys.platform == "win32":
        return False  # no process groups there (end_groups never gets here on Windows)
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _end_trees(pids: list[int], grace: float) -> None:
    """Windows has no process groups to signal: end each process and its descendants through psutil."""
    import psutil

    members: list[psutil.Process] = []
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            leader = psutil.Process(pid)
            members += [leader, *leader.children(recursive=True)]
    for member in members:
        with contextlib.suppress(psutil.Error):
            member.terminate()
    _, alive = psutil.wait_procs(members, timeout=grace)
    for member in alive:
        with contextlib.suppress(psutil.Error):
            member.kill()


def run(commands: IO[str]) -> None:
    """Follow `+pgid` / `-pgid` lines until the pipe closes, then end every group still listed."""
    # Ctrl-C in the server's terminal is not for us: our work starts when the server is gone.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    groups: set[int] = set()
    for line in commands:
        line = line.strip()
        if line[:1] in ("+", "-") and line[1:].isdigit():
            (groups.add if line[0] == "+" else groups.discard)(int(line[1:]))
    end_groups(sorted(groups))


class Reaper:
    """The server's side: starts the watchdog on first use and keeps it told."""

    def __init__(self, command: Sequence[str]) -> None:
        self.command = list(command)
        self._process: asyncio.subprocess.Process | None = None

    async def watch(self, pgid: int) -> None:
        await self._send(f"+{pgid}\n")

    async def forget(self, pgid: int) -> None:
        await self._send(f"-{pgid}\n")

    async def _send(self, line: str) -> None:
        if sys.platform == "win32":
            return  # Windows ends a process tree through its Job object instead
        if self._process is None or self._process.returncode is not None:
            self._process = await asyncio.create_subprocess_exec(
                *self.command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
                start_new_session=True,  # outside our process group, so a signal to the group spares it
            )
        assert self._process.stdin is not None
        self._process.stdin.write(line.encode())
        await self._process.stdin.drain()

    async def close(self) -> None:
        """Close the pipe (ending any group still listed) and wait for the watchdog to finish."""
        if self._process is not None and self._process.stdin is not None:
            self._process.stdin.close()
            await self._process.wait()
            self._process = None
