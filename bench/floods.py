"""Ping latency of a real instance while another process holds 10,000 unauthenticated connections open.

Murmuration: a `murmuration serve` process (fresh home and data folder, started with the usual desktop soft
open-files limit of 1024, which it raises itself); the attacker (tests/server/flood_client.py, its own process)
holds COUNT connections open and reopens each one the server closes — silent (`idle`) or dripping a request one
byte every 2 s (`slowloris`). Baseline, in the same run: the same server with no attacker. Both measure `ping`
every 20 ms over a connection opened before the attack and kept (as a tray's, a dashboard's or an agent's) and over
a new connection each time. Goal: kept p99 < 100 ms under either flood.

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
from dataclasses import dataclass
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


async def ping_for(run: Served, seconds: float, client: InstanceClient | None) -> tuple[list[float], int]:
    """Latencies of pings answered in `seconds` and how many failed or took more than 10 s: over `client`, kept
    open from before the attack (as a tray's or an agent's), or, without one, over a new connection each time."""
    latencies: list[float] = []
    failed = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        start = time.perf_counter()
        try:
            async with asyncio.timeout(10):
                if client is not None:
                    await client.call("ping")
                else:
                    async with await InstanceClient.connect(run.url, run.token, timeout=10) as fresh:
                        await fresh.call("ping")
            latencies.append(time.perf_counter() - start)
        except Exception:  # a failed ping is the figure
            failed += 1
        await asyncio.sleep(PACE)
    return latencies, failed


def p99(latencies: list[float]) -> float | None:
    """The 99th percentile in milliseconds, None without any."""
    if not latencies:
        return None
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


def shown(ms: float | None) -> str:
    return "      —" if ms is None else f"{ms:7.1f}"


@dataclass
class Figures:
    """One run's pings: over the kept connection and over fresh ones."""

    kept: list[float]
    kept_failed: int
    fresh: list[float]
    fresh_failed: int


async def measure(count: int, seconds: float, mode: str | None) -> Figures:
    with usual_soft_limit(), served() as run:
        async with await InstanceClient.connect(run.url, run.token) as kept_client:
            await kept_client.call(
                "ping"
            )  # a kept connection has called before: its first call's set-up is not measured
            pass_through = attacker(int(run.ready["port"]), count, mode) if mode else contextlib.nullcontext()
            async with pass_through:
                (kept, kept_failed), (fresh, fresh_failed) = await asyncio.gather(
                    ping_for(run, seconds, kept_client), ping_for(run, seconds, None)
                )
    return Figures(kept, kept_failed, fresh, fresh_failed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    print(f"ping every {PACE * 1000:.0f} ms for {args.seconds:g} s over a kept connection and over fresh ones")
    baseline: Figures | None = None
    for mode in (None, "idle", "slowloris"):
        figures = asyncio.run(measure(args.count, args.seconds, mode))
        baseline = baseline or figures
        label = f"{mode} ×{args.count:,}" if mode else "no attacker"
        kept = p99(figures.kept)
        verdict = "" if kept is None else ("  meets the goal" if kept < P99_GOAL_MS else "  MISSES the goal")
        print(
            f"{label:18} kept  p99 {shown(kept)} ms (goal < {P99_GOAL_MS:.0f}, no attacker {shown(p99(baseline.kept))})"
            f"  {len(figures.kept):5} answered  {figures.kept_failed:3} failed{verdict if mode else ''}",
            flush=True,
        )
        print(
            f"{'':18} fresh p99 {shown(p99(figures.fresh))} ms (no attacker {shown(p99(baseline.fresh))})"
            f"            {len(figures.fresh):5} answered  {figures.fresh_failed:3} failed",
            flush=True,
        )


if __name__ == "__main__":
    main()
