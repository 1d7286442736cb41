"""Waits an agent can watch and call off: progress notifications while a call waits, and a cancel that ends the
wait at once while the process keeps running."""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from murmuration.client import InstanceClient
from murmuration.contract import MAX_IN_FLIGHT
from tests.mcp_bridge.conftest import bridge, data_folder, ok
from tests.waiting import until_async

SLEEPS = [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)"]
CANCELLED = "get_process_logs cancelled by the client"


def logged_at(log: str, message: str) -> datetime | None:
    """When the bridge logged `message` (its log's own time stamp, to the millisecond), or None if it did not."""
    found = re.search(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) .*" + re.escape(message), log, re.MULTILINE)
    return datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S,%f") if found else None


@pytest.mark.parametrize(
    ("tool", "wait"),
    [
        ("get_process_logs", lambda timeout: {"wait_for": {"log": "never printed", "timeout": timeout}}),
        ("wait_for_process", lambda timeout: {"log": "never printed", "timeout": timeout}),  # its old name
    ],
)
async def test_a_wait_sends_progress_to_a_client_that_asked(
    project: Path, tool: str, wait: Callable[[float], dict[str, Any]]
) -> None:
    async with bridge(project) as client:
        process = await ok(client, "start_process", command=SLEEPS, wait_for={"log": "up"})
        seen: list[tuple[float, str | None]] = []

        async def progress(value: float, total: float | None, message: str | None) -> None:
            seen.append((value, message))

        arguments = {"process_id": process["id"], **wait(2.5)}
        result = await client.call_tool(tool, arguments, progress_callback=progress)
        assert not result.is_error
        assert len(seen) >= 2, seen
        assert [value for value, _ in seen] == sorted(value for value, _ in seen)
        assert all(message and "still waiting" in message for _, message in seen)


async def test_a_cancelled_wait_ends_at_once_and_the_process_keeps_running(project: Path) -> None:
    async with bridge(project) as client:
        process = await ok(client, "start_process", command=SLEEPS, wait_for={"log": "up"})
        waiting = asyncio.Event()

        async def progress(value: float, total: float | None, message: str | None) -> None:
            waiting.set()

        arguments = {"process_id": process["id"], "wait_for": {"exit": True, "timeout": 60}}
        call = asyncio.create_task(client.call_tool("get_process_logs", arguments, progress_callback=progress))
        await asyncio.wait_for(waiting.wait(), 30)
        log = data_folder(project).log_folder / "mcp-bridge.log"
        cancelled_at = datetime.now()
        call.cancel()

        async def bridge_stopped_waiting() -> datetime | None:
            return logged_at(log.read_text(errors="replace"), CANCELLED)

        # Timed by the bridge's own log stamp, not by when this test looked: the wait itself ended within 100 ms.
        stopped_at = await until_async(bridge_stopped_waiting, "the bridge to note the cancel", timeout=10)
        assert (stopped_at - cancelled_at).total_seconds() < 0.1
        [status] = (await ok(client, "list_processes", ids=[process["id"]]))["processes"]
        assert status["state"] == "running"
        assert (await ok(client, "ping"))["pong"] is True


async def test_waits_an_agent_cancels_stop_on_the_instance_and_give_back_the_bridges_connection(project: Path) -> None:
    async with bridge(project) as client:
        process = await ok(client, "start_process", command=SLEEPS, wait_for={"log": "up"})
        folder = data_folder(project)
        long_wait = {"process_id": process["id"], "wait_for": {"log": "never printed", "timeout": 120}}
        async with await InstanceClient.for_folder(folder) as observer:

            async def bridge_calls(last: str) -> int:
                """How many calls the bridge made, as the instance counts them, once its last call was `last`."""
                agents = (await observer.call("list_agents"))["agents"]
                return max([a["calls"] for a in agents if a["last_call"] == last] or [0])

            before = await bridge_calls("start_process")
            # More waits than one connection may run at once: the bridge holds the rest until a slot is free.
            calls = [
                asyncio.create_task(client.call_tool("get_process_logs", long_wait)) for _ in range(MAX_IN_FLIGHT + 4)
            ]
            await until_async(
                lambda: bridge_calls("get_process_logs"),
                "the waits to reach the instance",
                done=lambda n: n >= before + MAX_IN_FLIGHT,
            )
        for call in calls:
            call.cancel()
        await asyncio.gather(*calls, return_exceptions=True)

        # A full set of new waits runs at once: had the cancelled ones gone on, these would queue for 120 s.
        short_wait = {"process_id": process["id"], "wait_for": {"log": "never printed", "timeout": 1}}
        async with asyncio.timeout(30):
            results = await asyncio.gather(
                *(client.call_tool("get_process_logs", short_wait) for _ in range(MAX_IN_FLIGHT))
            )
        assert not any(result.is_error for result in results)

        # And the instance's own log: every wait that reached it was stopped there, not let run to its timeout.
        def cancelled_on_the_instance() -> int:
            return folder.server_log.read_text(errors="replace").count("(get_process_logs) cancelled by its caller")

        await until_async(cancelled_on_the_instance, "the waits to stop", done=lambda n: n >= MAX_IN_FLIGHT)
        [status] = (await ok(client, "list_processes", ids=[process["id"]]))["processes"]
        assert status["state"] == "running"
