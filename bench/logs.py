"""Output capture: a 1,000,000-line flood through a real instance beside a plain Python pipe reader, and ping latency.

Murmuration: a `murmuration serve` process (fresh MURMURATION_HOME and data folder); a client subscribed to
`process` events times start_process (immediate) → the process's `stopped` event, so every line is read, split,
stamped and written to logs/processes/<id>.log. Baseline, in the same run and alternating with it: subprocess.Popen of
the same command, reading stdout line by line in Python and counting. Goal: Murmuration's lines/s ≥ 0.5× the
baseline's. The log file is checked afterwards: every line, in order.

Ping: during each flood two other connections call `ping` every 10 ms — one subscribed to nothing, one to every
event as the dashboard is (so it receives the output batches). Goal: p99 < 100 ms.

    .venv/bin/python bench/logs.py [--lines 1000000] [--runs 3] [--range-start 29600]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from murmuration.client import InstanceClient
from murmuration.datafolder import DataFolder
from served import served

RATIO_GOAL = 0.5
P99_GOAL_MS = 100.0
PING_EVERY = 0.01


def flood_command(lines: int) -> list[str]:
    return [sys.executable, "-c", f"import sys; sys.stdout.writelines(f'{{i}}\\n' for i in range({lines}))"]


def pipe_reader(command: list[str], lines: int) -> float:
    """Seconds for a plain Python reader to take every line of `command` from a pipe."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    count = 0
    for _ in proc.stdout:
        count += 1
    proc.wait()
    took = time.perf_counter() - start
    if count != lines:
        raise RuntimeError(f"the pipe reader counted {count} lines, not {lines}")
    return took


@dataclass
class Pinger:
    """Calls ping every PING_EVERY seconds on its own connection and keeps the round-trip times (ms)."""

    client: InstanceClient
    times: list[float] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            began = time.perf_counter()
            await self.client.call("ping")
            self.times.append((time.perf_counter() - began) * 1000)
            await asyncio.sleep(PING_EVERY)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def drain(client: InstanceClient) -> None:
    """Read a subscribed client's events as a dashboard would, so they do not pile up."""
    while True:
        await client.next_event()


def check_log(path: Path, lines: int) -> tuple[int, bool]:
    """How many stdout lines the log file holds, and whether they are 0 … lines-1 in order."""
    count = 0
    in_order = True
    with open(path, "rb") as log:
        for raw in log:
            _, tag, text = raw.rstrip(b"\n").split(b" ", 2)
            if tag != b"out":
                continue
            if in_order and text != b"%d" % count:
                in_order = False
            count += 1
    return count, in_order and count == lines


async def capture(folder: DataFolder, command: list[str], plain: Pinger, dashboard: Pinger) -> tuple[float, str]:
    """Seconds from start_process to the `stopped` event, and the process id."""
    async with await InstanceClient.for_folder(folder) as client:
        await client.subscribe(["process"])
        plain.start()
        dashboard.start()
        try:
            start = time.perf_counter()
            process = await client.call("start_process", {"command": command, "immediate": True})
            while True:
                event = await client.next_event()
                if event.get("id") == process["id"] and event.get("state") in ("stopped", "failed"):
                    took = time.perf_counter() - start
                    break
        finally:
            await plain.stop()
            await dashboard.stop()
        if event["state"] != "stopped":
            raise RuntimeError(f"the flood ended {event['state']}: {event['process']}")
        return took, process["id"]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT MET"


async def run(lines: int, runs: int, ports: range) -> None:
    command = flood_command(lines)
    baseline: list[float] = []
    ours: list[float] = []
    checks: list[tuple[int, bool]] = []
    with served(ports=ports) as server:
        folder = server.folder
        plain = Pinger(await InstanceClient.for_folder(folder))
        dashboard_client = await InstanceClient.for_folder(folder)
        await dashboard_client.subscribe(["*"])
        dashboard = Pinger(dashboard_client)
        reader = asyncio.create_task(drain(dashboard_client))
        try:
            for _ in range(runs):
                baseline.append(await asyncio.to_thread(pipe_reader, command, lines))
                took, process_id = await capture(folder, command, plain, dashboard)
                ours.append(took)
                checks.append(check_log(folder.log_folder / "processes" / f"{process_id}.log", lines))
        finally:
            reader.cancel()
            await plain.client.close()
            await dashboard_client.close()
    base, mine = statistics.median(baseline), statistics.median(ours)
    ratio = base / mine
    print(
        f"Capture of a {lines:,}-line flood, {runs} runs alternating, medians ({sys.executable}, {os.cpu_count()} CPUs)"
    )
    print(f"  command: {' '.join(command[:2])} {command[2]!r}")
    print(f"  pipe reader (Popen, for line in stdout)   {base:6.2f} s  {lines / base / 1e6:5.2f} M lines/s")
    print(f"  murmuration (start_process → stopped)     {mine:6.2f} s  {lines / mine / 1e6:5.2f} M lines/s")
    print(
        f"  runs: pipe {', '.join(f'{t:.2f}' for t in baseline)} s; murmuration {', '.join(f'{t:.2f}' for t in ours)} s"
    )
    print(f"  ratio {ratio:.2f}× the pipe reader (goal ≥ {RATIO_GOAL:g}×: {verdict(ratio >= RATIO_GOAL)})")
    complete = all(ok for _, ok in checks)
    counts = ", ".join(f"{count:,}" for count, _ in checks)
    print(f"  log files: {counts} stdout lines; every line in order: {'yes' if complete else 'NO'}")
    for label, pinger in (("not subscribed", plain), ("subscribed to all events", dashboard)):
        times = pinger.times
        p50, p99 = percentile(times, 50), percentile(times, 99)
        print(
            f"Ping during the floods, client {label}: n={len(times)}  p50 {p50:.1f} ms  p99 {p99:.1f} ms  "
            f"max {max(times):.1f} ms  (goal p99 < {P99_GOAL_MS:g} ms: {verdict(p99 < P99_GOAL_MS)})"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000, help="lines per flood (default 1,000,000)")
    parser.add_argument("--runs", type=int, default=3, help="floods of each kind (default 3)")
    parser.add_argument("--range-start", type=int, default=29600, help="first port of a 10-port range (default 29600)")
    args = parser.parse_args()
    asyncio.run(run(args.lines, args.runs, range(args.range_start, args.range_start + 10)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
