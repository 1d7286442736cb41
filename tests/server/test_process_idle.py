"""An instance with no running process does no periodic work (issue 12): once its last process has ended, a real
`murmuration serve` is not woken by any timer — counted from the kernel's context switches of all its threads."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from murmuration.client import InstanceClient
from murmuration.datafolder import DataFolder
from tests.conftest import Servers

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/<pid>/task/*/status")

WINDOW = 3.0


def switches(pid: int) -> int:
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        for line in (task / "status").read_text().splitlines():
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                total += int(line.split()[1])
    return total


async def test_no_timer_wakes_an_instance_whose_processes_have_ended(servers: Servers, tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = servers.start("--data-dir", str(data))
    async with await InstanceClient.for_folder(DataFolder(data)) as client:
        process = await client.call("start_process", {"command": "echo hi; sleep 0.5", "immediate": True})
        done = await client.call("wait_for_process", {"process_id": process["id"], "exit": True})
        assert done["state"] == "stopped"
    await asyncio.sleep(1.0)  # the client's goodbye and the last output batch are over
    before = switches(server.proc.pid)
    await asyncio.sleep(WINDOW)
    woken = switches(server.proc.pid) - before
    # A 10 Hz timer would show 30 here; a stray wake-up (a page-in, the GC of a thread) is not periodic work.
    assert woken <= 3, f"woken {woken} times in {WINDOW} s with nothing running"
