"""Starting, stopping, asking and removing instances as separate, detached processes.

The CLI, the tray and the self-test manage instances only through these functions, so each rule (how long
to wait, what counts as "ours", how a folder is deleted safely) lives here once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psutil

from murmuration import registry
from murmuration.client import InstanceClient, InstanceUnavailable, RpcError
from murmuration.datafolder import DataFolder, Runtime
from murmuration.lock import FolderLock
from murmuration.privatefiles import create_private
from murmuration.selfcommand import PROGRAM_PREFIX, self_command
from murmuration.status import State, not_responding_message, ping, probe

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
ASK_TIMEOUT = 2.0  # seconds to wait for a polite shutdown to be acknowledged
KILL_WAIT = 3.0
CONNECT_TIMEOUT = 5.0


class StartFailed(Exception):
    """The server exited or stayed silent instead of saying it was ready."""

    def __init__(self, message: str, exit_code: int | None) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class NotResponding(StartFailed):
    """The instance's server lives and holds its data folder but does not answer: starting another cannot help."""


@dataclass
class Started:
    """An instance that is running: its ready line, and whether it was already running before."""

    ready: dict[str, Any]
    already_running: bool


def _detach_options() -> dict[str, Any]:
    if sys.platform == "win32":
        flags = subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.DETACHED_PROCESS | subprocess.CREATE_NO_WINDOW
        return {"creationflags": flags}
    # Its own session: the server outlives the terminal, the tray or the agent that started it.
    return {"start_new_session": True}


def start_instance(folder: DataFolder, timeout: float = START_TIMEOUT, serve_args: Sequence[str] = ()) -> Started:
    """Start the server of `folder` detached and wait for its ready line (or report why it failed).

    `serve_args` are added to its `serve` command line, e.g. `--idle-exit 900` from the MCP bridge.
    """
    status = probe(folder)
    if status.state is State.RUNNING and status.runtime is not None:
        info = folder.read_info()
        runtime = status.runtime
        if asyncio.run(ping(runtime)) is None:
            raise NotResponding(not_responding_message(info.name, info.id, runtime.pid), 1)
        ready = {"event": "ready", "instance": info.id, "name": info.name, "pid": runtime.pid, "port": runtime.port}
        return Started({**ready, "url": runtime.url}, already_running=True)
    # The server secures the whole folder itself (and says why it cannot); its stderr log is opened without links here.
    folder.ensure_layout()
    with open(create_private(folder.stderr_log), "ab") as stderr:
        errors_from = stderr.tell()
        proc = subprocess.Popen(
            self_command("serve", "--data-dir", str(folder.path), *serve_args),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            close_fds=True,
            **_detach_options(),
        )
    assert proc.stdout is not None
    line: list[bytes] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout)
    if not line or not line[0]:
        # Silent for `timeout` (the reader still waits), or its stdout closed: it is exiting, so wait for its code.
        # (A reader still waiting proves nothing: a child of the server may hold its stdout open after it exited.)
        if _still_running(proc):
            proc.kill()
            raise StartFailed(
                f"The server did not say it was ready within {timeout:.0f} s; see {folder.stderr_log}.", None
            )
        code = proc.wait()
        raise StartFailed(_last_error(folder, errors_from) or f"The server exited with code {code}.", code)
    proc.stdout.close()
    return Started(json.loads(line[0]), already_running=False)


def _still_running(proc: subprocess.Popen[bytes], grace: float = 10.0) -> bool:
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        return True
    return False


def _last_error(folder: DataFolder, offset: int) -> str:
    try:
        with open(folder.stderr_log, "rb") as f:
            f.seek(offset)
            lines = f.read().decode(errors="replace").strip().splitlines()
    except OSError:
        return ""
    # The server's own sentence, without the program name it printed it with: the caller adds its own.
    return lines[-1].removeprefix(PROGRAM_PREFIX) if lines else ""


def stop_instance(folder: DataFolder, timeout: float = STOP_TIMEOUT) -> bool:
    """Stop the server of `folder`: ask it, then kill it when `timeout` s have passed; False when none ran.

    The whole stop is bounded by `timeout` (plus a moment for the kill): a frozen server that accepts
    the connection but never answers cannot hold it up.
    """
    status = probe(folder)
    runtime = status.runtime
    if status.state is not State.RUNNING or runtime is None:
        if status.state is State.CRASHED:
            folder.remove_runtime()
        return False
    try:
        process = psutil.Process(runtime.pid)
    except psutil.NoSuchProcess:
        folder.remove_runtime()
        return False
    deadline = time.monotonic() + timeout
    try:
        asyncio.run(asyncio.wait_for(_ask_to_shut_down(folder), max(0.1, min(ASK_TIMEOUT, timeout))))
    except (InstanceUnavailable, RpcError, OSError, TimeoutError):
        with contextlib.suppress(psutil.NoSuchProcess):
            process.terminate()  # psutil refuses to signal a pid that now names another process
            # A frozen server (SIGSTOP, a debugger) sees SIGTERM only once it runs again: let it, so it exits cleanly.
            process.resume()
    if not _wait_ended(process, deadline):
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
        _wait_ended(process, time.monotonic() + KILL_WAIT)
    if folder.read_runtime() == runtime:
        folder.remove_runtime()  # killed: it could not clean up after itself
    return True


def _wait_ended(process: psutil.Process, deadline: float) -> bool:
    """Wait until `process` has ended (a zombie not yet reaped by its parent counts as ended)."""
    while True:
        try:
            if not process.is_running() or process.status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        if time.monotonic() >= deadline:
            return False
        # Not our child, so there is nothing to wait on but the process table.
        time.sleep(0.05)


async def _ask_to_shut_down(folder: DataFolder) -> None:
    async with await InstanceClient.for_folder(folder) as client:
        await client.call("shutdown")


async def login_url(runtime: Runtime, timeout: float = CONNECT_TIMEOUT) -> str:
    """A one-time sign-in link for the dashboard of the server at `runtime` (the token never appears in it).

    Raises InstanceUnavailable or RpcError when the server cannot give one.
    """
    async with await InstanceClient.connect(runtime.url, runtime.token, timeout=timeout) as client:
        result = await client.call("create_login_code")
    return str(result["login_url"])


async def listening_urls(runtime: Runtime, timeout: float = CONNECT_TIMEOUT) -> list[tuple[str, str]]:
    """(title, url) for each address a running process of the server at `runtime` listens on, newest first.

    Raises InstanceUnavailable or RpcError when the server cannot say.
    """
    async with await InstanceClient.connect(runtime.url, runtime.token, timeout=timeout) as client:
        result = await client.call("list_processes", {"status": "running", "limit": 1000})
    return [(str(p["title"]), str(url)) for p in result["processes"] for url in p.get("urls", [])]


def remove_instance(folder: DataFolder) -> None:
    """Delete a stopped instance's data folder; raises FolderLocked when a server holds (or is taking) it.

    The folder's lock is held while it is deleted, so no server can start on it meanwhile.
    """
    lock = FolderLock(folder.lock_file)
    lock.acquire()
    try:
        registry.remove(folder)
    finally:
        with contextlib.suppress(OSError):  # the lock file went with the folder
            lock.release()
