"""The instance goes away while a bridge runs: calls say so clearly, and the bridge reconnects when it is back."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import psutil

from murmuration import registry
from tests.mcp_bridge.conftest import bridge, cli, data_folder, ok, refused, running_pid, text_of
from tests.waiting import until_async


async def test_a_person_started_instance_is_reported_down_then_used_again_once_back(tmp_path: Path) -> None:
    assert (await cli("new", "Team Board")).returncode == 0
    started = await cli("start", "team-board")
    assert started.returncode == 0, started.stderr
    folder = registry.find("team-board")
    first_pid = running_pid(folder)
    async with bridge(tmp_path, "--instance", "Team Board") as client:
        assert (await ok(client, "get_instance_info"))["pid"] == first_pid
        assert (await cli("stop", "team-board")).returncode == 0
        for _ in range(2):  # the bridge never starts a server a person stopped
            sentence = await refused(client, "list_issues", {})
            assert "is not running" in sentence
            assert "murmuration start team-board" in sentence
        assert running_pid(folder) is None
        restarted = await cli("start", "team-board")
        assert restarted.returncode == 0, restarted.stderr
        info = await ok(client, "get_instance_info")
        assert info["pid"] == running_pid(folder) != first_pid
        await ok(client, "record_issue", title="after the restart")


async def test_a_bridge_started_instance_is_started_again_on_the_next_call(project: Path) -> None:
    folder = data_folder(project)
    async with bridge(project) as client:
        before = await ok(client, "record_issue", title="kept across restarts")
        first_pid = running_pid(folder)
        stopped = await cli("stop", "shop")
        assert stopped.returncode == 0, stopped.stderr
        assert running_pid(folder) is None
        result = await client.call_tool("get_issue", {"issue_id": before["id"]})
        assert not result.is_error, text_of(result)
        assert "had stopped; the bridge started it again" in text_of(result)
        assert (result.structured_content or {})["title"] == "kept across restarts"
        second_pid = running_pid(folder)
        assert second_pid not in (None, first_pid)
        assert "--idle-exit" in psutil.Process(second_pid).cmdline()
        # Only the call that found it gone carries the note.
        assert "had stopped" not in text_of(await client.call_tool("ping", {}))


async def test_a_call_cut_off_by_a_crash_says_it_may_not_have_happened(project: Path) -> None:
    folder = data_folder(project)
    stubborn = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(300)"
    )
    async with bridge(project) as client:
        process = await ok(client, "start_process", command=[sys.executable, "-c", stubborn], immediate=True)

        async def is_up() -> bool:
            logs = await ok(client, "get_process_logs", process_id=process["id"], log_type="stdout")
            return any(line["text"] == "up" for line in logs["lines"])

        await until_async(is_up, "the process to print that it is up")
        # It ignores TERM, so stop_process waits out its timeout: the call is in flight when the server dies.
        in_flight = asyncio.ensure_future(
            client.call_tool("stop_process", {"process_id": process["id"], "timeout": 60_000})
        )

        async def stopping() -> bool:
            status = await ok(client, "get_process_status", process_id=process["id"])
            return bool(status["state"] == "stopping")

        await until_async(stopping, "the process to be stopping")
        orphan = (await ok(client, "get_process_status", process_id=process["id"]))["pid"]
        server_pid = running_pid(folder)
        assert server_pid is not None
        os.kill(server_pid, signal.SIGKILL)
        cut_off = await asyncio.wait_for(in_flight, 30)
        assert cut_off.is_error
        sentence = text_of(cut_off)
        assert "stopped while running stop_process" in sentence
        assert "may or may not have been done" in sentence
        # Next call: the bridge started that server, so it starts a new one, which ends the orphan it finds.
        status = await client.call_tool("get_process_status", {"process_id": process["id"]})
        assert not status.is_error, text_of(status)
        assert "started it again" in text_of(status)
        assert (status.structured_content or {})["state"] != "stopping"
        assert running_pid(folder) not in (None, server_pid)
        await until_async(
            lambda: not psutil.pid_exists(orphan) or psutil.Process(orphan).status() == "zombie",
            "the orphaned process to end",
        )
