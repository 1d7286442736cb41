"""The supervisor: crashed instances come back with backoff; a crash loop ends in a notification, not forever."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

from murmuration import registry
from murmuration.tray.controller import Tray
from murmuration.tray.instance import InstanceState, OverallState
from murmuration.tray.model import InstanceModel
from murmuration.tray.supervisor import RestartPolicy, Supervisor
from tests.tray.waits import until

from .conftest import FAST_POLICY, FAST_POLL, SCREENSHOTS


def test_the_backoff_doubles_and_is_capped() -> None:
    policy = RestartPolicy(first_delay=1.0, max_delay=10.0)
    assert [policy.delay(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def break_state_db(folder: Path) -> None:
    """Make the instance exit at start from now on: its database is a folder."""
    for suffix in ("", "-wal", "-shm"):
        (folder / f"state.db{suffix}").unlink(missing_ok=True)
    (folder / "state.db").mkdir()


async def test_a_killed_instance_is_restarted(tray: Tray, home: Path) -> None:
    registry.create("Phoenix", home)
    tray.start()
    model = tray.model
    await until(lambda: model.get("phoenix"), model.instance_added)
    assert await model.start("phoenix")
    instance = model.get("phoenix")
    assert instance is not None
    assert instance.pid is not None
    first_pid = instance.pid

    os.kill(first_pid, signal.SIGKILL)

    await until(lambda: instance.state is InstanceState.CRASHED, model.instance_changed)
    assert model.overall() is OverallState.TROUBLE
    await until(lambda: instance.running and instance.pid != first_pid, model.instance_changed)
    assert model.overall() is OverallState.OK
    assert tray.supervisor.crash_count("phoenix") == 1
    assert ("Phoenix crashed", "Phoenix stopped unexpectedly; restarting it in 0 s.") in tray.notifications
    # The log says how it ended, though the dead server could not write it itself.
    assert instance.last_exit == "was killed by signal 9 (SIGKILL)"
    log = registry.find("phoenix").server_log.read_text()
    assert f"the server (pid {first_pid}) was killed by signal 9 (SIGKILL) without being asked to." in log


async def test_a_crash_loop_ends_in_the_crash_loop_state_with_a_notification(tray: Tray, home: Path) -> None:
    folder = registry.create("Doomed Bird", home)
    tray.start()
    model = tray.model
    await until(lambda: model.get("doomed-bird"), model.instance_added)
    assert await model.start("doomed-bird")
    instance = model.get("doomed-bird")
    assert instance is not None
    assert instance.pid is not None
    starts: list[InstanceState] = []
    model.instance_changed.connect(
        lambda instance_id: (
            starts.append(instance.state)
            if instance_id == "doomed-bird" and instance.state is InstanceState.STARTING
            else None
        )
    )

    os.kill(instance.pid, signal.SIGKILL)
    await until(lambda: instance.state is InstanceState.CRASHED, model.instance_changed)
    break_state_db(folder.path)

    await until(lambda: instance.state is InstanceState.CRASH_LOOP, model.instance_changed, timeout=60)
    # One kill, then four failed restarts: the fifth crash within the window ends the restarting.
    assert len(starts) == FAST_POLICY.loop_crashes - 1
    title, message = tray.notifications[-1]
    assert title == "Doomed Bird keeps crashing"
    assert "crashed 5 times in 1 minute (the last time it exited with status 1: " in message
    assert "stopped restarting" in message
    assert instance.message == message
    assert model.overall() is OverallState.TROUBLE
    log = folder.server_log.read_text()
    assert log.count("exited with status 1 without being asked to.") == FAST_POLICY.loop_crashes - 1
    assert "its last lines on stderr" in log
    view = tray.window.open_instance("doomed-bird")
    assert view is not None
    assert view.shown == "stopped"
    assert "the last time it exited with status 1" in view.stopped.sentence.text()
    assert view.stopped.button("start").text() == "Start again"
    tray.window.resize(1000, 560)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert tray.window.grab().save(str(SCREENSHOTS / "crash_loop_page.png"))

    # No endless restart: a full refresh cycle later, still nobody started it.
    await model.refresh()
    await model.refresh()
    assert instance.state is InstanceState.CRASH_LOOP
    assert len(starts) == FAST_POLICY.loop_crashes - 1

    # A person's Start is a fresh chance (and the supervisor forgets the loop).
    shutil.rmtree(folder.path / "state.db")
    assert await model.start("doomed-bird")
    assert instance.running
    assert tray.supervisor.crash_count("doomed-bird") == 0


async def test_a_stop_asked_during_the_wait_cancels_the_restart(model: InstanceModel, home: Path) -> None:
    supervisor = Supervisor(model, RestartPolicy(first_delay=30.0))
    registry.create("Patient", home)
    model.watch(FAST_POLL)
    await until(lambda: model.get("patient"), model.instance_added)
    assert await model.start("patient")
    instance = model.get("patient")
    assert instance is not None
    assert instance.pid is not None

    os.kill(instance.pid, signal.SIGKILL)
    await until(lambda: instance.restart_at is not None, model.instance_changed)
    assert (
        "stopped unexpectedly: it was killed by signal 9 (SIGKILL); restarting in 30 s." in instance.status_sentence()
    )

    await model.stop("patient")

    assert instance.state is InstanceState.STOPPED
    assert supervisor.crash_count("patient") == 0
    await supervisor.close()
