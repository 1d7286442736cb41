"""Idle exit: a server a bridge started stops once nobody needs it; busy servers and people's servers stay."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from murmuration import registry
from murmuration.server.idle import stop_when_idle
from tests.mcp_bridge.conftest import bridge, cli, data_folder, git_project, ok, running_pid
from tests.waiting import until_async

LIMIT = 1.5
IDLE = {"MURMURATION_IDLE_EXIT": str(LIMIT)}


async def test_only_an_idle_bridge_started_server_stops_by_itself(tmp_path: Path) -> None:
    idle_project = git_project(tmp_path, "idle")
    busy_project = git_project(tmp_path, "busy")
    # A person's server, started where the setting is in the environment too: it must not apply.
    assert (await cli("new", "desk")).returncode == 0
    assert (await cli("start", "desk", env=IDLE)).returncode == 0
    idle_folder, busy_folder, desk = data_folder(idle_project), data_folder(busy_project), registry.find("desk")
    long_job = [sys.executable, "-c", "import time; time.sleep(300)"]

    async with bridge(idle_project, env=IDLE) as first, bridge(busy_project, env=IDLE) as second:
        await ok(first, "ping")
        job = await ok(second, "start_process", command=long_job, immediate=True)
        async with bridge(tmp_path, "--instance", "desk", env=IDLE) as third:
            await ok(third, "ping")
            # A connected agent keeps even an idle server: nothing may stop while a bridge holds it.
            await asyncio.sleep(3 * LIMIT)
            assert None not in (running_pid(idle_folder), running_pid(busy_folder), running_pid(desk))

    # Every agent has left. The idle bridge-started server goes by itself...
    await until_async(lambda: running_pid(idle_folder) is None, "the idle server to stop by itself")
    assert "idle for" in idle_folder.server_log.read_text()
    # ...while the one with a running process and the person's one stay, however long they are left alone.
    await asyncio.sleep(2 * LIMIT)
    assert running_pid(busy_folder) is not None
    assert running_pid(desk) is not None

    # Once its work is done (and its agent gone), the busy one goes too.
    async with bridge(busy_project, env=IDLE) as second:
        assert (await ok(second, "stop_process", process_id=job["id"], force=True))["state"] == "stopped"
    await until_async(lambda: running_pid(busy_folder) is None, "the server to stop once its work ended")
    assert running_pid(desk) is not None


async def test_activity_restarts_the_idle_count() -> None:
    busy_until = time.monotonic() + 0.6
    stopped: list[float] = []
    begun = time.monotonic()
    await asyncio.wait_for(
        stop_when_idle(0.3, lambda: time.monotonic() >= busy_until, lambda: stopped.append(time.monotonic())),
        timeout=10,
    )
    assert len(stopped) == 1
    # Not before the activity ended plus a whole idle period.
    assert stopped[0] - begun >= 0.6 + 0.3


async def test_serve_refuses_a_negative_idle_exit(tmp_path: Path) -> None:
    result = await cli("serve", "--data-dir", str(tmp_path / "x"), "--idle-exit", "-5")
    assert result.returncode == 1
    assert "--idle-exit" in result.stderr or "seconds" in result.stderr
    assert result.stdout == ""
