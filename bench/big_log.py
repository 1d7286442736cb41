"""Reading a 1 GB process log: ping latency while three get_process_logs calls read it, and how long each took.

A `murmuration serve` runs one `true`; its log is then replaced by a well-formed 1 GB log (numbered 200-byte lines).
One connection pings every 10 ms, first for QUIET seconds with nothing else going on (the no-reader figure), then
while three others read at once: the last 10,000 lines, 10,000 lines after a cursor in the middle, and a grep that
matches nothing. Baseline, in the same run: the server of another checkout (--baseline, default /work/main/app)
doing the same. Goal: ping p99 < 100 ms while the reads run.

    .venv/bin/python bench/big_log.py [--baseline /work/main/app]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path
from typing import Any

import psutil

from murmuration.client import InstanceClient
from served import served

SIZE = 1 << 30
QUIET = 3.0  # seconds of pings with no reader
P99_GOAL_MS = 100.0


def write_big_log(path: Path) -> int:
    pad = b"z" * 152
    number = 0
    with open(path, "wb") as f:
        while f.tell() < SIZE:
            start, number = number + 1, number + 50_000
            f.write(b"".join(b"%d 2026-01-01T00:00:00.000Z out %s\n" % (n, pad) for n in range(start, number + 1)))
    return number


async def measure(baseline: str | None) -> tuple[list[float], list[float], list[float], int]:
    env = dict(os.environ)
    if baseline:
        env["PYTHONPATH"] = baseline
    with served(env=env) as server:
        async with await InstanceClient.connect(server.url, server.token) as client:
            process = await client.call("start_process", {"command": ["true"], "immediate": True})
            # Polled: the baseline server has no wait_for_process.
            while (await client.call("get_process_status", {"process_id": process["id"]}))["state"] != "stopped":  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            log = server.folder.log_folder / "processes" / f"{process['id']}.log"
            last = await asyncio.to_thread(write_big_log, log)
            await client.call("ping")  # its first call's set-up is not what is measured
            quiet: list[float] = []
            pings: list[float] = []
            reading = True

            async def pinger(into: list[float], until: float | None = None) -> None:
                while reading and (until is None or time.perf_counter() < until):
                    started = time.perf_counter()
                    await client.call("ping")
                    into.append((time.perf_counter() - started) * 1000)
                    await asyncio.sleep(0.01)

            await pinger(quiet, time.perf_counter() + QUIET)

            async def timed(params: dict[str, Any]) -> float:
                async with await InstanceClient.connect(server.url, server.token) as reader:
                    started = time.perf_counter()
                    await reader.call("get_process_logs", {"process_id": process["id"], **params})
                    return time.perf_counter() - started

            reads = [{"lines": 10_000}, {"after": last // 2, "lines": 10_000}, {"grep": "never", "after": 0}]
            ping_task = asyncio.create_task(pinger(pings))
            rss_before = psutil.Process(server.proc.pid).memory_info().rss
            took = await asyncio.gather(*(timed(p) for p in reads))
            rss_after = psutil.Process(server.proc.pid).memory_info().rss
            reading = False
            await ping_task
            return quiet, pings, list(took), (rss_after - rss_before) >> 20


def builds(baseline: str) -> list[tuple[str, str | None]]:
    """This checkout, and the baseline checkout when it exists."""
    return [("this checkout", None)] + ([(f"baseline {baseline}", baseline)] if os.path.isdir(baseline) else [])


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", default="/work/main/app")
    options = parser.parse_args()
    for label, baseline in builds(options.baseline):
        quiet, pings, took, grew = await measure(baseline)
        verdict = "meets the goal" if p99(pings) < P99_GOAL_MS else "MISSES the goal"
        print(
            f"{label:<32} ping p99 {p99(pings):7.1f} ms while reading (goal < {P99_GOAL_MS:.0f}, no reader "
            f"{p99(quiet):.1f}), max {max(pings):7.1f} ms over {len(pings)} pings, {verdict}; "
            f"reads {', '.join(f'{t:.2f}' for t in took)} s; server grew {grew} MB",
            flush=True,
        )


if __name__ == "__main__":
    asyncio.run(main())
