"""The InstanceModel against real instances: adopting, discovering, reporting, starting, stopping."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

import psutil

from murmuration import registry
from murmuration.control import start_instance
from murmuration.tray.instance import InstanceState, OverallState
from murmuration.tray.model import InstanceModel
from tests.conftest import run_cli
from tests.tray.waits import until

from .conftest import FAST_POLL


def servers_of(folder: Path) -> list[psutil.Process]:
    """Every live `murmuration serve` process serving `folder`."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        cmdline = process.info["cmdline"] or []
        if "serve" in cmdline and str(folder) in cmdline and process.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(process)
    return found


async def test_the_model_adopts_a_running_instance_instead_of_starting_another(
    model: InstanceModel, home: Path
) -> None:
    folder = registry.create("Already Up", home)
    started = await asyncio.to_thread(start_instance, folder)
    pid = started.ready["pid"]

    model.watch(FAST_POLL)
    instance = await until(lambda: model.get("already-up"), model.changed)
    await until(lambda: instance.state is InstanceState.RUNNING, model.instance_changed)

    assert instance.pid == pid
    assert instance.port == started.ready["port"]
    assert model.is_watched("already-up")
    assert [p.pid for p in servers_of(folder.path)] == [pid]
    # Start on an adopted instance is no second server either.
    assert await model.start("already-up")
    assert instance.pid == pid
    assert [p.pid for p in servers_of(folder.path)] == [pid]


async def test_an_instance_created_and_started_by_the_cli_appears_by_itself(model: InstanceModel) -> None:
    model.set_sampling(True)  # as the shown window does: memory is read only then
    model.watch(FAST_POLL)
    await until(lambda: model.first_scan_done, model.changed)
    assert model.instances() == []

    created = await asyncio.to_thread(run_cli, "new", "Made By An Agent")
    assert created.returncode == 0, created.stderr
    instance = await until(lambda: model.find_by_name("Made By An Agent"), model.instance_added)
    assert instance.state is InstanceState.STOPPED

    started = await asyncio.to_thread(run_cli, "start", "Made By An Agent")
    assert started.returncode == 0, started.stderr
    await until(lambda: instance.running, model.instance_changed)
    assert instance.url is not None
    assert instance.url in started.stdout
    assert instance.memory is not None
    assert instance.memory > 0
    assert (instance.uptime() or 0) >= 0


async def test_an_instance_stopped_outside_the_tray_is_reported_stopped_not_crashed(model: InstanceModel) -> None:
    model.watch(FAST_POLL)
    assert (await asyncio.to_thread(run_cli, "new", "Short Lived")).returncode == 0
    assert (await asyncio.to_thread(run_cli, "start", "Short Lived")).returncode == 0
    instance = await until(lambda: model.find_by_name("Short Lived"), model.instance_added)
    await until(lambda: instance.running, model.instance_changed)
    crashes: list[str] = []
    model.crashed.connect(lambda instance_id, _: crashes.append(instance_id))

    assert (await asyncio.to_thread(run_cli, "stop", "Short Lived")).returncode == 0

    await until(lambda: instance.state is InstanceState.STOPPED, model.instance_changed)
    assert instance.pid is None
    assert instance.url is None
    assert crashes == []
    assert not model.is_watched(instance.id)
    assert model.overall() is OverallState.IDLE


async def test_a_killed_instance_is_reported_crashed(model: InstanceModel, home: Path) -> None:
    registry.create("Fragile", home)
    model.watch(FAST_POLL)
    await until(lambda: model.get("fragile"), model.instance_added)
    assert await model.start("fragile")
    instance = model.get("fragile")
    assert instance is not None
    assert instance.running
    assert instance.pid is not None

    crashed: list[tuple[str, str]] = []
    model.crashed.connect(lambda instance_id, reason: crashed.append((instance_id, reason)))

    os.kill(instance.pid, signal.SIGKILL)

    await until(lambda: crashed, model.crashed)
    assert crashed[0][0] == "fragile"
    assert "unexpectedly" in crashed[0][1]
    assert instance.state is InstanceState.CRASHED
    assert model.overall() is OverallState.TROUBLE


async def test_start_and_stop_go_through_their_states(model: InstanceModel, home: Path) -> None:
    registry.create("Switch", home)
    await model.refresh()
    seen: list[InstanceState] = []
    model.instance_changed.connect(lambda _: seen.append(model.get("switch").state))  # type: ignore[union-attr]

    assert await model.start("switch")
    instance = model.get("switch")
    assert instance is not None
    assert instance.running
    assert instance.port is not None
    assert await model.stop("switch")

    assert seen[0] is InstanceState.STARTING
    assert InstanceState.RUNNING in seen
    assert InstanceState.STOPPING in seen
    assert seen[-1] is InstanceState.STOPPED
    assert servers_of(instance.folder.path) == []


async def test_instances_marked_autostart_start_with_the_tray(model: InstanceModel, home: Path) -> None:
    registry.create("Eager", home)
    registry.create("Lazy", home)
    await model.refresh()
    await model.set_autostart("eager", True)
    assert registry.find("eager").read_info().autostart

    fresh = InstanceModel()
    try:
        fresh.watch(FAST_POLL)
        eager = await until(lambda: fresh.get("eager"), fresh.instance_added)
        await until(lambda: eager.running, fresh.instance_changed)
        lazy = fresh.get("lazy")
        assert lazy is not None
        assert lazy.state is InstanceState.STOPPED
    finally:
        await fresh.close()


async def test_the_summary_counts_states_and_names_ports(model: InstanceModel, home: Path) -> None:
    assert model.summary() == "Murmuration — no instances yet"
    registry.create("Alpha", home)
    registry.create("Beta", home)
    await model.refresh()
    assert await model.start("alpha")
    alpha = model.get("alpha")
    assert alpha is not None

    summary = model.summary()
    assert summary.splitlines()[0] == "Murmuration — 1 running, 1 stopped"
    assert f"Alpha: running on port {alpha.port}" in summary
    assert "Beta: stopped" in summary
    assert model.overall() is OverallState.OK
    assert model.next_name() == "Instance 1"


async def test_a_deleted_instance_leaves_the_model_and_the_disk(model: InstanceModel, home: Path) -> None:
    folder = registry.create("Doomed", home)
    await model.refresh()
    assert await model.start("doomed")

    await model.delete("doomed")

    assert model.get("doomed") is None
    assert not folder.path.exists()
    assert servers_of(folder.path) == []


def test_what_a_person_may_ask_follows_the_state(tmp_path: Path) -> None:
    from murmuration.datafolder import DataFolder, Runtime
    from murmuration.tray.instance import Instance

    runtime = Runtime(pid=1, port=8080, url="http://127.0.0.1:8080/", token="t", started_at="", version="")
    allowed = {}
    for state in InstanceState:
        live = (
            runtime if state in (InstanceState.RUNNING, InstanceState.NOT_RESPONDING, InstanceState.STOPPING) else None
        )
        instance = Instance("x", "X", DataFolder(tmp_path), state=state, runtime=live)
        allowed[state] = (instance.can_start, instance.can_stop, instance.can_restart)
    assert allowed == {
        InstanceState.STOPPED: (True, False, False),
        InstanceState.STARTING: (False, True, False),
        InstanceState.RUNNING: (False, True, True),
        InstanceState.NOT_RESPONDING: (False, True, False),
        InstanceState.STOPPING: (False, True, False),
        InstanceState.CRASHED: (True, True, False),  # Stop cancels the wait before its restart
        InstanceState.CRASH_LOOP: (True, False, False),
        InstanceState.FAILED: (True, False, False),
    }


async def test_a_crashed_instance_reads_the_same_in_the_tray_and_in_ls(model: InstanceModel, home: Path) -> None:
    folder = registry.create("Dead", home)
    started = await asyncio.to_thread(start_instance, folder)
    os.kill(started.ready["pid"], signal.SIGKILL)
    await until(lambda: not psutil.pid_exists(started.ready["pid"]) or zombie(started.ready["pid"]))

    await model.refresh()

    instance = model.get("dead")
    assert instance is not None
    assert instance.state is InstanceState.CRASHED
    listed = await asyncio.to_thread(run_cli, "ls", "--json")
    assert [row["status"] for row in json.loads(listed.stdout)] == [instance.state.value] == ["crashed"]
    table = (await asyncio.to_thread(run_cli, "ls")).stdout.splitlines()
    assert table[1].split()[2] == instance.state.label.lower() == "crashed"


def zombie(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False
