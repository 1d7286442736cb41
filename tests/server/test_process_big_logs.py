"""A 1 GB process log read three ways at once never blocks a real `murmuration serve`: every ping answers
while the reads run, each read answers, and the server's memory stays bounded."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import psutil
import pytest

from murmuration.client import InstanceClient
from murmuration.datafolder import DataFolder
from tests.conftest import Servers

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="writes a 1 GB file quickly only on POSIX runners")

SIZE = 1 << 30
LINE_BYTES = 200


def write_big_log(path: Path) -> int:
    """A well-formed log of about 1 GB (numbered lines, as the server writes them); the number of its last line."""
    pad = b"z" * (LINE_BYTES - 48)
    per_chunk = 50_000
    number = 0
    with open(path, "wb") as f:
        while f.tell() < SIZE:
            start = number + 1
            number += per_chunk
            f.write(b"".join(b"%d 2026-01-01T00:00:00.000Z out %s\n" % (n, pad) for n in range(start, number + 1)))
    return number


async def test_three_reads_of_a_1_gb_log_never_stop_the_server_answering_pings(
    servers: Servers, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    server = servers.start("--data-dir", str(data))
    async with await InstanceClient.for_folder(DataFolder(data)) as client:
        process = await client.call("start_process", {"command": ["true"], "immediate": True})
        await client.call("wait_for_process", {"process_id": process["id"], "exit": True})
        log = data / "logs" / "processes" / f"{process['id']}.log"
        last = await asyncio.to_thread(write_big_log, log)
        memory_before = psutil.Process(server.proc.pid).memory_info().rss

        latencies: list[float] = []
        reading = True

        async def ping_all_along() -> None:
            while reading:
                started = time.perf_counter()
                await asyncio.wait_for(client.call("ping"), 5)
                latencies.append(time.perf_counter() - started)
                await asyncio.sleep(0.01)

        pinger = asyncio.create_task(ping_all_along())
        reads = await asyncio.gather(
            client.call("get_process_logs", {"process_id": process["id"], "lines": 10_000}),
            client.call("get_process_logs", {"process_id": process["id"], "after": last // 2, "lines": 10_000}),
            client.call("get_process_logs", {"process_id": process["id"], "grep": "never printed", "after": 0}),
        )
        reading = False
        await pinger
        memory_after = psutil.Process(server.proc.pid).memory_info().rss

    tail, middle, search = reads
    assert tail["lines"][-1]["n"] == last
    assert len(tail["lines"]) == 10_000
    assert [line["n"] for line in middle["lines"][:2]] == [last // 2 + 1, last // 2 + 2]
    assert search["lines"] == []
    assert "more" in search  # it stopped at its read limit and says how to go on
    assert latencies, "no ping answered while the reads ran"
    assert max(latencies) < 2.0, sorted(latencies)[-5:]
    assert memory_after - memory_before < 200 * 2**20, "reading the log grew the server by more than 200 MB"
