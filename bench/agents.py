"""Coordination under load: claims over a big board, and reservation checks against many holders.

A real `python -m murmuration serve` on a fresh data folder; every figure is measured over the WebSocket with
murmuration.client.InstanceClient, one call at a time, as an agent's bridge calls:

- `next_issue {claim: true}` over a board of --issues open issues, a third of them waiting on another issue;
- `list_issues {ready: true, limit: 50}` over the same board;
- `check_paths` (10 paths) and `reserve` + `release` (3 globs) while --sessions other sessions hold
  --reservations shared path globs between them;
- baseline, in the same run and interleaved with the others: `ping`, the cost of one round trip.

    .venv/bin/python bench/agents.py [--calls 200] [--issues 5000] [--sessions 20] [--reservations 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from murmuration.client import InstanceClient
from served import print_latencies, served


async def timed(call: Callable[[], Awaitable[Any]]) -> float:
    start = time.perf_counter()
    await call()
    return (time.perf_counter() - start) * 1000


async def measure(url: str, token: str, args: argparse.Namespace) -> dict[str, list[float]]:
    agent = await InstanceClient.connect(url, token)
    await agent.call("identify", {"name": "bench"})
    ids = []
    for n in range(args.issues):
        # Every third issue waits on the one before it, so readiness has blockers to look through.
        blocked_by = [ids[-1]] if ids and n % 3 == 0 else []
        issue = await agent.call("record_issue", {"title": f"task {n}", "blocked_by": blocked_by})
        ids.append(issue["id"])
    holders = [await InstanceClient.connect(url, token) for _ in range(args.sessions)]
    for number, holder in enumerate(holders):
        await holder.call("identify", {"name": f"holder-{number}"})
    for n in range(args.reservations):
        holder = holders[n % len(holders)]
        await holder.call("reserve", {"resources": [f"src/area{n}/**/*.py"], "exclusive": False})
    paths = [f"src/area{n * 97 % args.reservations}/module/file{n}.py" for n in range(10)]
    kinds: dict[str, Callable[[], Awaitable[Any]]] = {
        "ping": lambda: agent.call("ping"),
        "next_issue claim": lambda: agent.call("next_issue", {"claim": True}),
        "list_issues ready": lambda: agent.call("list_issues", {"ready": True, "limit": 50}),
        "check_paths 10 paths": lambda: agent.call("check_paths", {"paths": paths}),
        "reserve + release 3 globs": lambda: reserve_and_release(agent),
    }
    figures: dict[str, list[float]] = {kind: [] for kind in kinds}
    for _ in range(args.calls):
        for kind, call in kinds.items():
            figures[kind].append(await timed(call))
    for client in (agent, *holders):
        await client.close()
    return figures


async def reserve_and_release(agent: InstanceClient) -> None:
    granted = await agent.call("reserve", {"resources": ["lib/**", "docs/*.md", "port:5432"]})
    await agent.call("release", {"reservation_id": granted["id"]})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--issues", type=int, default=5000)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--reservations", type=int, default=1000)
    args = parser.parse_args()
    if args.calls > args.issues:
        parser.error("--calls claims that many issues: give at least as many --issues")
    with served() as server:
        seeding = time.perf_counter()
        figures = asyncio.run(measure(server.url, server.token, args))
        seeded = time.perf_counter() - seeding
    print(
        f"Coordination: {args.issues:,} issues, {args.reservations:,} shared reservations held by {args.sessions} "
        f"sessions; {args.calls} calls of each kind, one at a time, interleaved "
        f"({os.cpu_count()} CPUs, Python {sys.version.split()[0]}; whole run {seeded:.1f} s)"
    )
    print_latencies(figures, "call")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
