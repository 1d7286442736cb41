"""The model follows changes, not the clock: whatever another process does is shown within 2 s, and while
nothing changes nothing is scheduled (no scan, no timer) — the tray's idle cost does not grow with instances."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Collection
from pathlib import Path

import psutil

from murmuration import registry
from murmuration.tray.instance import InstanceState
from murmuration.tray.model import InstanceModel
from tests.conftest import run_cli
from tests.tray.waits import until

from .conftest import FAST_POLL

PROMISE = 2.0  # seconds within which the tray shows a change


async def settled(model: InstanceModel) -> None:
    """Wait until the model has nothing scheduled: it waits on notifications only."""
    await until(lambda: not model.scheduled(), model.changed, model.instance_changed, what="the model at rest")


async def test_changes_made_by_other_processes_show_within_two_seconds_and_nothing_runs_in_between(
    model: InstanceModel, home: Path
) -> None:
    scans = 0
    refresh = model.refresh

    async def counted(folders: Collection[Path] | None = None) -> None:
        nonlocal scans
        scans += 1
        await refresh(folders)

    model.refresh = counted  # type: ignore[method-assign]
    for n in range(5):
        registry.create(f"Quiet {n}", home)
    model.watch(FAST_POLL)
    await until(lambda: len(model.instances()) == 5, model.instance_added)
    await settled(model)

    # Registry edited: an instance made by the CLI appears.
    assert (await asyncio.to_thread(run_cli, "new", "Elsewhere")).returncode == 0
    instance = await until(lambda: model.find_by_name("Elsewhere"), model.instance_added, timeout=PROMISE)
    await settled(model)

    # Started by another process: shown running.
    assert (await asyncio.to_thread(run_cli, "start", "Elsewhere")).returncode == 0
    await until(lambda: instance.running, model.instance_changed, timeout=PROMISE, what="running")
    await settled(model)
    quiet_scans = scans
    assert model.scheduled() == []  # a running server is followed without a timer (a pidfd on Linux)

    # Renamed by editing instance.json in place (no new file: only the file's own watch sees it).
    edit_in_place(instance.folder.instance_file, name="Renamed")
    await until(lambda: instance.name == "Renamed", model.instance_changed, timeout=PROMISE, what="the new name")
    await settled(model)

    # Killed outright (no file changes): shown crashed.
    assert instance.pid is not None
    os.kill(instance.pid, signal.SIGKILL)
    await until(lambda: instance.state is InstanceState.CRASHED, model.instance_changed, timeout=PROMISE)
    await settled(model)

    # Started again and stopped by another process: shown stopped, not crashed.
    again = await asyncio.to_thread(run_cli, "start", "Renamed")
    assert again.returncode == 0, again.stderr
    await until(lambda: instance.running, model.instance_changed, timeout=PROMISE, what="running again")
    assert (await asyncio.to_thread(run_cli, "stop", "Renamed")).returncode == 0
    await until(lambda: instance.state is InstanceState.STOPPED, model.instance_changed, timeout=PROMISE)
    await settled(model)

    # Removed by the CLI: gone from the model.
    assert (await asyncio.to_thread(run_cli, "rm", "Renamed")).returncode == 0
    await until(lambda: model.get(instance.id) is None, model.instance_removed, timeout=PROMISE)
    await settled(model)

    # A few scans per change (a burst of file events is one), none between them.
    assert scans - quiet_scans <= 5 * 3


async def test_memory_is_read_only_while_the_window_shows_it(model: InstanceModel, home: Path) -> None:
    registry.create("Measured", home)
    model.watch(FAST_POLL)
    await until(lambda: model.get("measured"), model.instance_added)
    assert await model.start("measured")
    instance = model.get("measured")
    assert instance is not None
    await settled(model)
    assert instance.memory is None  # nobody looks: nothing samples it

    model.set_sampling(True)
    await until(lambda: instance.memory, model.instance_changed, what="memory")
    assert "a memory sampling timer" in model.scheduled()

    model.set_sampling(False)
    await settled(model)


async def test_a_server_the_tray_started_leaves_no_zombie_when_it_stops(model: InstanceModel, home: Path) -> None:
    registry.create("Child One", home)
    registry.create("Child Two", home)
    model.watch(FAST_POLL)
    await until(lambda: len(model.instances()) == 2, model.instance_added)
    assert await model.start("child-one")
    assert await model.start("child-two")
    one, two = model.get("child-one"), model.get("child-two")
    assert one is not None
    assert two is not None
    pids = [one.pid, two.pid]
    assert all(psutil.Process(pid).ppid() == os.getpid() for pid in pids)  # really the tray's children

    await model.stop("child-one")  # stopped by the tray
    assert (await asyncio.to_thread(run_cli, "stop", "Child Two")).returncode == 0  # and by someone else
    await until(lambda: two.state is InstanceState.STOPPED, model.instance_changed, timeout=PROMISE)

    # The one stopped elsewhere removes its runtime.json before it exits: it is collected when it has ended.
    for n, pid in enumerate(pids, 1):
        assert pid is not None
        await until(lambda p=pid: not zombie(p), timeout=PROMISE, what=f"server {n} collected")


def edit_in_place(path: Path, **changes: object) -> None:
    """Rewrite a JSON file in place, as an editor that keeps the file does (no new inode)."""
    info = json.loads(path.read_text())
    with open(path, "r+") as f:
        f.write(json.dumps({**info, **changes}))
        f.truncate()


def zombie(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False
