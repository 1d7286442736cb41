"""Ping latency of a real instance while another process holds 10,000 unauthenticated connections open.

Murmuration: a `murmuration serve` process (fresh home and data folder, started with the usual desktop soft
open-files limit of 1024, which it raises itself); the attacker (tests/server/flood_client.py, its own process)
holds COUNT connections open and reopens each one the server closes — silent (`idle`) or dripping a request one
byte every 2 s (`slowloris`). Baseline, in the same run: the same server with no attacker. Both measure `ping`
every 20 ms over a kept connection and over a new connection each time. Goal: flood p99 < 100 ms (kept).

    .venv/bin/python bench/floods.py [--count 10000] [--seconds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from murmuration.client import InstanceClient
from served import Served, served

FLOOD_CLIENT = Path(__file__).parent.parent / "tests" / "server" / "flood_client.py"
PACE = 0.02
P99_GOAL_MS = 100.0


@contextlib.contextmanager
def usual_soft_limit() -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, hard), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@contextlib.asynccontextmanager
async def attacker(port: int, count: int, mode: str) -> AsyncIterator[None]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(FLOOD_CLIENT), str(port), str(count), mode, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    assert proc.stdin is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 120)
        assert line.startswith(b"holding"), line
        yield
    finally:
        proc.stdin.close()
        await proc.wait()


async def ping_for(run: Served, seconds: float, fresh: bool) -> tuple[list[float], int]:
    """Latencies of pings answered in `seconds`, and how many failed or took more than 10 s."""
    latencies: list[float] = []
    failed = 0
    client: InstanceClient | None = None
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        start = time.perf_counter()
        try:
            async with asyncio.timeout(10):
                if client is None:
                    client = await InstanceClient.connect(run.url, run.token, timeout=10)
                await client.call("ping")
            latencies.append(time.perf_counter() - start)
        except Exception:  # a failed ping is the figure
            failed += 1
            client = None
        if fresh and client is not None:
            await client.close()
            client = None
        await asyncio.sleep(PACE)
    if client is not None:
        await client.close()
    return latencies, failed


def p99_ms(latencies: list[float]) -> str:
    if not latencies:
        return "   —"
    ordered = sorted(latencies)
    return f"{ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000:7.1f}"


async def measure(count: int, seconds: float, mode: str | None) -> list[str]:
    with usual_soft_limit(), served() as run:
        pass_through = attacker(int(run.ready["port"]), count, mode) if mode else contextlib.nullcontext()
        async with pass_through:
            (kept, kept_failed), (fresh, fresh_failed) = await asyncio.gather(
                ping_for(run, seconds, fresh=False), ping_for(run, seconds, fresh=True)
            )
    label = f"{mode} ×{count:,}" if mode else "no attacker"
    return [
        f"{label:18} kept  p99 {p99_ms(kept)} ms  {len(kept):5} answered  {kept_failed:3} failed",
        f"{'':18} fresh p99 {p99_ms(fresh)} ms  {len(fresh):5} answered  {fresh_failed:3} failed",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    print(f"ping every {PACE * 1000:.0f} ms for {args.seconds:g} s; goal: kept p99 < {P99_GOAL_MS:.0f} ms under flood")
    for mode in (None, "idle", "slowloris"):
        for line in asyncio.run(measure(args.count, args.seconds, mode)):
            print(line, flush=True)


if __name__ == "__main__":
    main()
