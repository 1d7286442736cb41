"""How soon a cancelled wait ends on the instance, beside one round trip.

A real `python -m murmuration serve` on a fresh data folder with one sleeping process; over one WebSocket
(murmuration.client.InstanceClient, as a bridge connects), interleaved, --calls times each:

- `get_process_logs` with `wait_for` (a line never printed, 120 s), its caller cancelled once the instance runs it:
  from the cancel to the next `ping` on the same connection answered;
- a full connection: MAX_IN_FLIGHT such waits cancelled at once, to the next `ping` answered;
- baseline: `ping` alone, the cost of one round trip; and, once, BURST pings at once (the client sends at most
  MAX_IN_FLIGHT at a time, so that the instance always reads its cancels).

    .venv/bin/python bench/cancel.py [--calls 100]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from typing import Any

from murmuration.client import InstanceClient
from murmuration.contract import MAX_IN_FLIGHT
from served import print_latencies, served

BURST = 2000
SLEEPS = [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(600)"]


async def running(observer: InstanceClient, calls: int) -> None:
    """Until the instance has begun `calls` waits on some connection (list_agents counts each one's calls)."""
    while True:
        agents = (await observer.call("list_agents"))["agents"]
        if any(a["calls"] >= calls and a["last_call"] == "get_process_logs" for a in agents):
            return


async def cancelled(agent: InstanceClient, observer: InstanceClient, wait: dict[str, Any], count: int) -> float:
    """Milliseconds from cancelling `count` running waits to the connection's next answer."""
    before = max(a["calls"] for a in (await observer.call("list_agents"))["agents"] if a["last_call"] == "ping")
    calls = [asyncio.create_task(agent.call("get_process_logs", wait)) for _ in range(count)]
    await running(observer, before + count)
    start = time.perf_counter()
    for call in calls:
        call.cancel()
    await asyncio.gather(*calls, return_exceptions=True)
    await agent.call("ping")
    return (time.perf_counter() - start) * 1000


async def measure(url: str, token: str, calls: int) -> dict[str, list[float]]:
    agent = await InstanceClient.connect(url, token)
    observer = await InstanceClient.connect(url, token)
    process = await agent.call("start_process", {"command": SLEEPS, "wait_for": {"log": "up"}})
    wait = {"process_id": process["id"], "wait_for": {"log": "never printed", "timeout": 120}}
    figures: dict[str, list[float]] = {"ping": [], "one wait cancelled": [], f"{MAX_IN_FLIGHT} waits cancelled": []}
    for _ in range(calls):
        await agent.call("ping")  # so the agent's last call is ping before each measured wait
        start = time.perf_counter()
        await agent.call("ping")
        figures["ping"].append((time.perf_counter() - start) * 1000)
        figures["one wait cancelled"].append(await cancelled(agent, observer, wait, 1))
        await agent.call("ping")
        figures[f"{MAX_IN_FLIGHT} waits cancelled"].append(await cancelled(agent, observer, wait, MAX_IN_FLIGHT))
    start = time.perf_counter()
    await asyncio.gather(*(agent.call("ping") for _ in range(BURST)))
    figures[f"{BURST} pings at once"] = [(time.perf_counter() - start) * 1000]
    await agent.close()
    await observer.close()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100)
    args = parser.parse_args()
    with served() as server:
        figures = asyncio.run(measure(server.url, server.token, args.calls))
    print(
        f"Cancelling waits: {args.calls} of each, interleaved, from the cancel to the next answer on the same "
        f"connection ({os.cpu_count()} CPUs, Python {sys.version.split()[0]}); uncancelled, a wait lasts 120 s"
    )
    print_latencies(figures, "what")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
