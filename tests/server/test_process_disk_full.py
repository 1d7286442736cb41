"""Disk full while a process prints, on a real 6 MB tmpfs holding a real server's data folder: the process
keeps running and its state stays true, stop answers, the slot frees, the log says how many lines were lost once
space returns, and nothing runs again after a restart — not even an immediate start that failed."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from murmuration.client import InstanceClient, RpcError
from murmuration.datafolder import DataFolder
from tests.conftest import Servers

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.geteuid() != 0, reason="mounts a small tmpfs, which needs Linux and root"
)

FLOOD_THEN_TRICKLE = (
    "import sys, time\n"
    "for i in range(60000):\n"
    "    print('flood', i, 'x' * 100)\n"
    "sys.stdout.flush()\n"
    "open(sys.argv[1], 'w').close()\n"
    "while True:\n"
    "    print('trickle', time.time(), flush=True)\n"
    "    time.sleep(0.1)\n"
)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def free_bytes(folder: Path) -> int:
    stats = os.statvfs(folder)
    return stats.f_bavail * stats.f_frsize


async def until(condition: object, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


async def test_a_process_printing_onto_a_full_disk_keeps_running_and_nothing_wedges(
    servers: Servers, small_disk: Path, tmp_path: Path
) -> None:
    data = small_disk / "data"
    marker = tmp_path / "ran-later"
    flooded = tmp_path / "flooded"
    server = servers.start("--data-dir", str(data))
    ballast = small_disk / "ballast"
    ballast.write_bytes(b"\0" * (1 << 20))
    async with await InstanceClient.for_folder(DataFolder(data)) as client:
        process = await client.call(
            "start_process", {"command": [sys.executable, "-c", FLOOD_THEN_TRICKLE, str(flooded)], "immediate": True}
        )
        await until(lambda: free_bytes(small_disk) < 64 * 1024, "the disk filling up")

        status = await client.call("get_process_status", {"process_id": process["id"]})
        assert status["state"] == "running"
        # A start while the disk is full either is refused or starts; it must never run later behind our back.
        late = None
        with contextlib.suppress(RpcError):
            late = await asyncio.wait_for(
                client.call("start_process", {"command": ["touch", str(marker)], "immediate": True}), 10
            )
        if late is not None and marker.exists():
            marker.unlink()  # it ran then and there, which is fine: what matters is it never runs again

        await until(flooded.exists, "the flood ending")
        assert (await client.call("get_process_status", {"process_id": process["id"]}))["state"] == "running"
        ballast.unlink()  # space returns
        found = await client.call(
            "wait_for_process", {"process_id": process["id"], "log": r"lines were not written to disk", "timeout": 30}
        )
        assert found["wait"]["ready"] is True, found["wait"]
        lost = int(found["wait"]["line"]["text"].split()[0])
        assert lost > 0
        await client.call("wait_for_process", {"process_id": process["id"], "log": "trickle", "timeout": 30})

        stopped = await asyncio.wait_for(client.call("stop_process", {"process_id": process["id"]}), 20)
        assert stopped["state"] == "stopped"
        queue = await client.call("get_queue_status")
        assert queue["running"] == 0  # the slot is free
    server.signal(15)
    assert server.finish() == 0

    servers.start("--data-dir", str(data))
    async with await InstanceClient.for_folder(DataFolder(data)) as client:
        again = await client.call("get_process_status", {"process_id": process["id"]})
        assert again["state"] == "stopped"
        assert again["attempts"] == 1
        await asyncio.sleep(0.5)  # the scheduler's chance to start anything left over
        running = await client.call("list_processes", {"status": "running"})
        assert running["total"] == 0
    assert not marker.exists()
    shutil.rmtree(data, ignore_errors=True)
