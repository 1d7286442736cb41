"""What opening a running instance's tray menu costs: asking for its processes' addresses.

A real `python -m murmuration serve` on a fresh data folder with --servers real HTTP servers as its processes
(each found listening); each figure is one `control.listening_urls` call, as the menu makes when it opens (a fresh
connection, then `list_processes` for the running ones), against the baseline of a fresh connection and a `ping`.

    .venv/bin/python bench/tray_menu.py [--calls 50] [--servers 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from typing import Any

from murmuration.client import InstanceClient
from murmuration.control import listening_urls
from murmuration.datafolder import Runtime
from served import served


async def ping(runtime: Runtime) -> None:
    async with await InstanceClient.connect(runtime.url, runtime.token) as client:
        await client.call("ping")


async def measure(runtime: Runtime, args: argparse.Namespace) -> dict[str, Any]:
    async with await InstanceClient.connect(runtime.url, runtime.token) as client:
        for _ in range(args.servers):
            await client.call(
                "start_process",
                {
                    "command": f"{sys.executable} -m http.server 0 --bind 127.0.0.1",
                    "immediate": True,
                    "wait_for": {"port": True, "timeout": 60},
                },
            )
    figures: dict[str, list[float]] = {"connect + ping (baseline)": [], "listening_urls": []}
    found = 0
    for _ in range(args.calls):
        start = time.perf_counter()
        await ping(runtime)
        figures["connect + ping (baseline)"].append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        found = len(await listening_urls(runtime))
        figures["listening_urls"].append((time.perf_counter() - start) * 1000)
    return {"figures": figures, "found": found}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--servers", type=int, default=5)
    args = parser.parse_args()
    with served() as server:
        runtime = server.folder.read_runtime()
        assert runtime is not None
        result = asyncio.run(measure(runtime, args))
    print(
        f"Tray menu addresses: {args.servers} listening processes ({result['found']} addresses found), "
        f"{args.calls} calls each, interleaved ({os.cpu_count()} CPUs, Python {sys.version.split()[0]})"
    )
    print(f"  {'call':28} {'p50':>9} {'p95':>9} {'max':>9}")
    for kind, values in result["figures"].items():
        values.sort()
        p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
        print(f"  {kind:28} {statistics.median(values):7.2f}ms {p95:7.2f}ms {values[-1]:7.2f}ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
