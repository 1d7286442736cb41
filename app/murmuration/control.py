"""Starting and stopping instances as separate, detached processes (used by the CLI and the tray)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psutil

from murmuration.client import InstanceClient, InstanceUnavailable, RpcError
from murmuration.datafolder import DataFolder
from murmuration.selfcommand import self_command
from murmuration.status import State, probe

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


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
    folder.ensure_layout()
    with open(folder.stderr_log, "ab") as stderr:
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
        if proc.poll() is None:
            proc.kill()
            raise StartFailed(
                f"The server did not say it was ready within {timeout:.0f} s; see {folder.stderr_log}.", None
            )
        code = proc.wait()
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
    """Stop the server of `folder`: ask it, wait `timeout` s, then kill; False when none was running."""
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
    try:
        asyncio.run(_ask_to_shut_down(folder))
    except (InstanceUnavailable, RpcError, OSError):
        process.terminate()  # psutil refuses to signal a reused pid
    try:
        process.wait(timeout)
    except psutil.TimeoutExpired:
        process.kill()
        process.wait(timeout)
        folder.remove_runtime()
    except psutil.NoSuchProcess:
        pass
    return True


async def _ask_to_shut_down(folder: DataFolder) -> None:
    async with await InstanceClient.for_folder(folder) as client:
        await client.call("shutdown")
