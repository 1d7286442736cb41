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
from murmuration.datafolder import DataFolder, DataFolderError, Runtime
from murmuration.lock import FolderLock
from murmuration.privatefiles import create_private
from murmuration.selfcommand import self_command
from murmuration.status import State, probe

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
ASK_TIMEOUT = 2.0  # seconds to wait for a polite shutdown to be acknowledged
KILL_WAIT = 3.0
EXIT_WAIT = 10.0  # seconds for a server that closed its output to finish exiting
PING_TIMEOUT = 3.0  # an instance that does not answer a ping this fast is "not responding"
CONNECT_TIMEOUT = 5.0


class StartFailed(Exception):
    """The server exited or stayed silent instead of saying it was ready."""

    def __init__(self, message: str, exit_code: int | None) -> None:
        super().__init__(message)
        self.exit_code = exit_code


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
        ready = {"event": "ready", "instance": info.id, "name": info.name, "pid": runtime.pid, "port": runtime.port}
        return Started({**ready, "url": runtime.url}, already_running=True)
    try:
        folder.secure()
    except DataFolderError as exc:
        raise StartFailed(str(exc), None) from None
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
        try:
            # An empty line is the end of its output: the server is exiting, though perhaps not reaped yet.
            code = proc.wait(timeout=EXIT_WAIT if line else 0)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise StartFailed(
                f"The server did not say it was ready within {timeout:.0f} s; see {folder.stderr_log}.", None
            ) from None
        raise StartFailed(_last_error(folder, errors_from) or f"The server exited with code {code}.", code)
    proc.stdout.close()
    return Started(json.loads(line[0]), already_running=False)


def _last_error(folder: DataFolder, offset: int) -> str:
    try:
        with open(folder.stderr_log, "rb") as f:
            f.seek(offset)
            lines = f.read().decode(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1] if lines else ""


def stop_instance(folder: DataFolder, timeout: float = STOP_TIMEOUT) -> bool:
    """Stop the server of `folder`: ask it, then kill it when `timeout` s have passed; False when none ran.

    The whole stop is bounded by `timeout` (plus a moment for the kill): a frozen server that accepts
    the connection but never answers cannot hold it up.
    """
    status = probe(folder)
    runtime = status.runtime
    if status.state is not State.RUNNING or runtime is None:
        if status.state is State.STALE:
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


async def ping(runtime: Runtime, timeout: float = PING_TIMEOUT) -> bool:
    """True when the server at `runtime` answers `ping` with its own token (so it is really ours)."""
    try:
        async with await InstanceClient.connect(runtime.url, runtime.token, timeout=timeout) as client:
            await asyncio.wait_for(client.call("ping"), timeout)
    except (InstanceUnavailable, RpcError, OSError, TimeoutError):
        return False
    return True


async def login_url(runtime: Runtime, timeout: float = CONNECT_TIMEOUT) -> str:
    """A one-time sign-in link for the dashboard of the server at `runtime` (the token never appears in it).

    Raises InstanceUnavailable or RpcError when the server cannot give one.
    """
    async with await InstanceClient.connect(runtime.url, runtime.token, timeout=timeout) as client:
        result = await client.call("create_login_code")
    return str(result["login_url"])


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
