"""Processes: how fast a process's listening port shows up as a URL, and what an instance costs while it waits.

URL latency: a managed process waits for a go file, then calls listen() on a free port and prints the time it did;
a client polls get_process_status every 5 ms and notes when that port appears in `urls`. Goal: median < 1 s.

Idle cost: a `murmuration serve` with no process at all, then with 20 quiet running processes (`sleep`), each
watched for --seconds: CPU seconds used and wake-ups per second (context switches of all its threads, from
/proc/<pid>/task/*/status). Baseline, in the same run: the same server from another checkout (--baseline, default
/work/main/app) — the code before this change. Goal: zero periodic wake-ups with no process running.

    .venv/bin/python bench/processes.py [--seconds 60] [--samples 20] [--baseline /work/main/app]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

from murmuration.client import InstanceClient
from served import served

LISTEN_LATER = (
    "import os, socket, sys, time\n"
    "go = sys.argv[1]\n"
    "while not os.path.exists(go):\n"
    "    time.sleep(0.001)\n"
    "s = socket.socket()\n"
    "s.bind(('127.0.0.1', 0))\n"
    "s.listen()\n"
    "print(s.getsockname()[1], time.time(), flush=True)\n"
    "time.sleep(300)\n"
)


def switches(pid: int) -> int:
    """Context switches so far of every thread of `pid`: each is a wake-up or a preemption."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        for line in (task / "status").read_text().splitlines():
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                total += int(line.split()[1])
    return total


async def url_latency(samples: int) -> list[float]:
    latencies: list[float] = []
    with served() as server, tempfile.TemporaryDirectory() as scratch:
        async with await InstanceClient.connect(server.url, server.token) as client:
            for i in range(samples):
                go = Path(scratch, f"go{i}")
                process = await client.call(
                    "start_process", {"command": [sys.executable, "-c", LISTEN_LATER, str(go)], "immediate": True}
                )
                await asyncio.sleep(0.3)  # let the port scanner settle into its rhythm
                await asyncio.to_thread(go.touch)
                found = await client.call(
                    "wait_for_process", {"process_id": process["id"], "log": r"^\d+ \d", "timeout": 30}
                )
                port_text, listened = found["wait"]["line"]["text"].split()
                while True:
                    status = await client.call("get_process_status", {"process_id": process["id"]})
                    if f"http://127.0.0.1:{port_text}/" in status["urls"]:
                        latencies.append(time.time() - float(listened))
                        break
                    await asyncio.sleep(0.005)
                await client.call("stop_process", {"process_id": process["id"], "force": True})
    return latencies


async def idle_cost(seconds: float, quiet_processes: int, baseline: str | None) -> tuple[float, float]:
    """(CPU seconds, wake-ups per second) of a server over `seconds` with `quiet_processes` sleeping children."""
    env = dict(os.environ)
    if baseline:
        env["PYTHONPATH"] = baseline
    with served(env=env) as server:
        async with await InstanceClient.connect(server.url, server.token) as client:
            await client.call("set_queue_config", {"max_concurrent": max(5, quiet_processes)})
            for _ in range(quiet_processes):
                await client.call("start_process", {"command": ["sleep", "600"], "immediate": True})
        await asyncio.sleep(2.0)  # start-up work (and the client's goodbye) is over
        process = psutil.Process(server.proc.pid)
        cpu_before = sum(process.cpu_times()[:2])
        woke_before = switches(server.proc.pid)
        await asyncio.sleep(seconds)
        cpu = sum(process.cpu_times()[:2]) - cpu_before
        wakeups = (switches(server.proc.pid) - woke_before) / seconds
    return cpu, wakeups


def builds(baseline: str) -> list[tuple[str, str | None]]:
    """This checkout, and the baseline checkout when it exists."""
    return [("this checkout", None)] + ([(f"baseline {baseline}", baseline)] if os.path.isdir(baseline) else [])


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--baseline", default="/work/main/app")
    options = parser.parse_args()

    latencies = await url_latency(options.samples)
    print(
        f"listen() → URL in get_process_status: median {statistics.median(latencies) * 1000:.0f} ms, "
        f"p99 {quantile(latencies, 0.99) * 1000:.0f} ms over {len(latencies)} processes (goal: median < 1000 ms)"
    )
    print(f"{'idle cost over ' + format(options.seconds, 'g') + ' s':<40} {'CPU s':>8} {'wake-ups/s':>11}")
    for quiet in (0, 20):
        for label, baseline in builds(options.baseline):
            cpu, wakeups = await idle_cost(options.seconds, quiet, baseline)
            print(f"{label + f', {quiet} quiet processes':<40} {cpu:>8.3f} {wakeups:>11.2f}")


if __name__ == "__main__":
    asyncio.run(main())
