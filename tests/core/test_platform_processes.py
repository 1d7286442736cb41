"""The platform's own way of starting and ending process trees (core/spawn.py, winjob.py, reaper.py), on real
processes. Written with Python children only, so the release workflow runs them on Windows and macOS too; a test is
skipped only where the platform lacks what it checks (Job objects and console windows are Windows').
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from murmuration.core import spawn as spawning
from murmuration.core.reaper import end_groups
from murmuration.core.spawn import environment, interrupt, kill, spawn, with_port
from murmuration.core.winjob import CREATE_NEW_PROCESS_GROUP, CREATE_NO_WINDOW, Job

WINDOWS_ONLY = pytest.mark.skipif(sys.platform != "win32", reason="Job objects and console windows exist on Windows")
# A parent that starts a child and reports both pids, then waits for ever.
TREE = (
    "import subprocess, sys, time\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])\n"
    "print(child.pid, flush=True)\n"
    "time.sleep(300)\n"
)


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


async def until_gone(pids: list[int], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not all(gone(pid) for pid in pids):
        assert time.monotonic() < deadline, f"{what}: {[p for p in pids if not gone(p)]} still alive"
        await asyncio.sleep(0.02)


def cleanup(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            psutil.Process(pid).kill()


async def started_tree(tmp_path: Path) -> tuple[spawning.Spawned, list[int]]:
    spawned = await spawn([sys.executable, "-c", TREE], str(tmp_path), environment({**_base()}, {}, None), tty=False)
    line = await asyncio.wait_for(spawned.stdout.readline(), 30)
    return spawned, [spawned.child.pid, int(line)]


def _base() -> dict[str, str]:
    import os

    return dict(os.environ)


def test_the_environment_keeps_output_live_and_pagers_off_unless_asked() -> None:
    env = environment({"PAGER": "less", "PATH": "/bin"}, {"GIT_PAGER": "delta"}, 4321)
    assert env["PAGER"] == "cat"
    assert env["GIT_PAGER"] == "delta"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["PORT"] == "4321"
    assert env["PATH"] == "/bin"


def test_the_port_placeholder_is_replaced_in_strings_only() -> None:
    assert with_port("serve --port {port} --other {port}", 5000) == "serve --port 5000 --other 5000"
    assert with_port(["serve", "{port}"], 5000) == ["serve", "{port}"]


async def test_a_graceful_stop_ends_the_tree_and_never_raises(tmp_path: Path) -> None:
    """On Windows a console-less server cannot send CTRL_BREAK (WinError 6): interrupt says so and the kill follows."""
    spawned, pids = await started_tree(tmp_path)
    try:
        asked = interrupt(spawned)
        assert asked is (sys.platform != "win32")
        if not asked:
            kill(spawned)
        try:
            await asyncio.wait_for(spawned.child.wait(), 10)
        except TimeoutError:
            kill(spawned)
            await spawned.child.wait()
        await until_gone(pids, 10, "the tree after a graceful stop")
    finally:
        cleanup(pids)


async def test_kill_ends_the_whole_tree(tmp_path: Path) -> None:
    spawned, pids = await started_tree(tmp_path)
    try:
        kill(spawned)
        await asyncio.wait_for(spawned.child.wait(), 10)
        await until_gone(pids, 10, "the tree after kill")
    finally:
        cleanup(pids)


def test_survivor_cleanup_ends_a_tree_with_the_platform_mechanism() -> None:
    """What the next start does with processes an instance left behind: no os.killpg on Windows."""
    options: dict[str, Any] = (
        {"creationflags": CREATE_NEW_PROCESS_GROUP} if sys.platform == "win32" else {"start_new_session": True}
    )
    leader = subprocess.Popen([sys.executable, "-c", TREE], stdout=subprocess.PIPE, **options)
    assert leader.stdout is not None
    pids = [leader.pid, int(leader.stdout.readline())]
    try:
        end_groups([leader.pid], 1.0)
        deadline = time.monotonic() + 10
        while not all(gone(pid) for pid in pids):
            assert time.monotonic() < deadline, "a survivor's tree outlived its clean-up"
            time.sleep(0.02)
    finally:
        cleanup(pids)
        leader.wait(timeout=10)
        leader.stdout.close()


@WINDOWS_ONLY
async def test_closing_the_job_ends_every_process_in_it(tmp_path: Path) -> None:
    spawned, pids = await started_tree(tmp_path)
    try:
        assert spawned.job is not None
        spawned.job.close()  # what Windows does when the server dies, however it dies
        await until_gone(pids, 10, "the tree after its job closed")
    finally:
        cleanup(pids)


@WINDOWS_ONLY
async def test_children_get_no_console_window(tmp_path: Path) -> None:
    code = "import ctypes; print(ctypes.windll.kernel32.GetConsoleWindow())"
    spawned = await spawn([sys.executable, "-c", code], str(tmp_path), environment(_base(), {}, None), tty=False)
    out = await asyncio.wait_for(spawned.stdout.read(), 30)
    await spawned.child.wait()
    assert out.strip() == b"0"
    assert CREATE_NO_WINDOW == 0x08000000


@pytest.mark.skipif(sys.platform == "win32", reason="checks that Job objects refuse politely where they do not exist")
def test_a_job_object_elsewhere_is_a_clear_error() -> None:
    with pytest.raises(OSError, match="only on Windows"):
        Job()
