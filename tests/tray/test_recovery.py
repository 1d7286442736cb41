"""After a crash and the supervisor's restart: the tab, the notification and the status bar say the instance runs
again, on which port, and which of its processes the crash interrupted and which were restarted."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import psutil

from murmuration import registry
from murmuration.client import InstanceClient
from murmuration.tray.controller import Tray
from murmuration.tray.instance import InstanceState
from murmuration.tray.supervisor import RestartPolicy
from tests.tray.waits import until

from .conftest import running_tray

# Slow enough to take the old port away between the crash and the restart.
POLICY = RestartPolicy(first_delay=1.0, max_delay=1.0, loop_crashes=5, loop_window=60.0)


async def test_after_a_crash_the_tray_says_it_runs_again_what_was_cut_short_and_the_new_port(home: Path) -> None:
    async with running_tray(POLICY) as tray:
        await crash_and_come_back(tray, home)


async def crash_and_come_back(tray: Tray, home: Path) -> None:
    registry.create("Worker", home)
    tray.start()
    model = tray.model
    await until(lambda: model.get("worker"), model.instance_added)
    assert await model.start("worker")
    instance = model.get("worker")
    assert instance is not None
    assert instance.runtime is not None
    old_port, old_pid = instance.runtime.port, instance.runtime.pid
    async with await InstanceClient.connect(instance.runtime.url, instance.runtime.token) as client:
        for title, policy in (("dev server", "always"), ("one-off <b>job</b>", "no")):
            await client.call(
                "start_process", {"command": ["sleep", "600"], "title": title, "restart": policy, "immediate": True}
            )
    view = tray.window.open_instance("worker")
    assert view is not None

    os.kill(old_pid, signal.SIGKILL)
    await until(lambda: not psutil.pid_exists(old_pid) or psutil.Process(old_pid).status() == "zombie")
    await until(lambda: not listening(old_port), what="the killed server's processes gone from its port")
    taken = socket.socket()
    try:
        # Its port is someone else's by the time it restarts (past the closed connections' TIME_WAIT).
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", old_port))
        taken.listen()
        await until(lambda: instance.state is InstanceState.CRASHED, model.instance_changed)
        await until(lambda: instance.running, model.instance_changed, what="running again")
    finally:
        taken.close()

    assert instance.port != old_port
    said = [n for n in tray.notifications if n[0] == "Worker is running again"]
    assert said == [
        (
            "Worker is running again",
            f"Worker is running again: port {old_port} was taken; now on {instance.port}; "
            "1 process interrupted (one-off <b>job</b>); 1 process restarted (dev server).",
        )
    ]
    assert "running again" in tray.window.statusBar().currentMessage()
    assert "crashed" not in tray.window.statusBar().currentMessage()
    await until(lambda: view.news.isVisibleTo(view), model.instance_changed)
    assert view.news.text() == said[0][1]


def listening(port: int) -> bool:
    return any(c.laddr.port == port and c.status == psutil.CONN_LISTEN for c in psutil.net_connections("tcp"))
