"""Restart policies on real processes: on-failure restarts with growing delays up to its limit, always
restarts whatever the exit, and a process stopped by a person or an agent is never restarted."""

from __future__ import annotations

import asyncio
import itertools
import sys
import time
from datetime import datetime
from typing import Any

import pytest

from murmuration.client import InstanceClient

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the commands are POSIX shell strings")


async def call(client: InstanceClient, method: str, **params: Any) -> dict[str, Any]:
    result: dict[str, Any] = await client.call(method, params)
    return result


def when(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


async def attempt_times(client: InstanceClient, process_id: str) -> list[float]:
    page = await call(client, "get_process_logs", process_id=process_id, log_type="system", lines=1000)
    return [when(line["time"]) for line in page["lines"] if line["text"].startswith("attempt ")]


async def test_on_failure_restarts_with_growing_delays_and_stops_at_the_limit(client: InstanceClient) -> None:
    await call(client, "set_queue_config", retry_delay_ms=200, retry_factor=2, retry_max_delay_ms=60_000)
    process = await call(client, "start_process", command="echo run; exit 1", restart="on-failure", max_restarts=3)
    done = await call(client, "wait_for_process", process_id=process["id"], exit=True, timeout=60)
    assert done["state"] == "failed"
    assert done["attempts"] == 4  # the first run and three restarts
    assert done["restarts"] == 3
    assert "restarted 3 times" in done["error"]
    starts = await attempt_times(client, process["id"])
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(gaps) == 3
    assert gaps[0] >= 0.2
    assert gaps[1] >= 0.4
    assert gaps[2] >= 0.8  # each wait at least the doubled delay (a loaded machine only adds to them)


async def test_on_failure_does_not_restart_a_success(client: InstanceClient) -> None:
    process = await call(client, "start_process", command="exit 0", restart="on-failure")
    done = await call(client, "wait_for_process", process_id=process["id"], exit=True)
    assert (done["state"], done["attempts"], done["restarts"]) == ("stopped", 1, 0)


async def test_always_restarts_a_clean_exit_and_a_stopped_process_never_comes_back(client: InstanceClient) -> None:
    await call(client, "set_queue_config", retry_delay_ms=100, retry_factor=1)
    process = await call(client, "start_process", command="echo up; sleep 0.2", restart="always", max_restarts=50)
    deadline = time.monotonic() + 30
    while (await call(client, "get_process_status", process_id=process["id"]))["attempts"] < 3:
        assert time.monotonic() < deadline, "not restarted three times"
        await asyncio.sleep(0.05)
    await call(client, "wait_for_process", process_id=process["id"], log="up", timeout=10)
    await call(client, "stop_process", process_id=process["id"])  # a queued restart is cancelled instead
    stopped = await call(client, "get_process_status", process_id=process["id"])
    assert stopped["state"] in ("stopped", "cancelled")
    attempts = stopped["attempts"]
    # Well past the 100 ms backoff: nothing brings it back.
    await asyncio.sleep(1.0)
    later = await call(client, "get_process_status", process_id=process["id"])
    assert (later["state"], later["attempts"]) == (stopped["state"], attempts)
