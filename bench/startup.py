"""Startup time and idle memory of `murmuration serve`, beside the cost of starting Python with websockets.

Startup: spawn → ready line of `python -m murmuration serve --data-dir TMP` (a fresh MURMURATION_HOME and
data folder each run). Baseline: spawn → exit of `python -c "import websockets"`, measured in the same run,
alternating with the server so both see the same machine. Goal: serve ≤ 3× the baseline.
Idle memory: RSS of a ready instance after a second idle. Goal: ≤ 40 MB.

`serve` is timed twice: with the environment as it is, and with a warm bytecode cache (PYTHONPYCACHEPREFIX
in a temporary folder). They differ when PYTHONDONTWRITEBYTECODE is set and murmuration is installed
editable: then every start compiles murmuration's modules again, which an installed copy never does.

    .venv/bin/python bench/startup.py [--runs 20] [--range-start 29500] [--importtime 12]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass

import psutil

from served import served

STARTUP_GOAL = 3.0
RSS_GOAL_MB = 40.0
MB = 1024 * 1024
BASELINE = [sys.executable, "-c", "import websockets"]


def time_baseline() -> float:
    start = time.perf_counter()
    subprocess.run(BASELINE, check=True, stdin=subprocess.DEVNULL)
    return time.perf_counter() - start


def time_serve(ports: range, env: dict[str, str]) -> float:
    with served(env=env, ports=ports) as run:
        return run.ready_after


def idle_memory(ports: range, env: dict[str, str], idle: float) -> tuple[float, float]:
    """RSS and USS in MB of a ready instance after `idle` seconds."""
    with served(env=env, ports=ports) as run:
        time.sleep(idle)
        info = psutil.Process(run.proc.pid).memory_full_info()
        return info.rss / MB, info.uss / MB


@dataclass
class ImportRow:
    own: int  # µs
    cumulative: int  # µs
    depth: int
    module: str
    parent: str = "(top level)"


def import_rows(ports: range, env: dict[str, str]) -> list[ImportRow]:
    """`python -X importtime` of serve up to its ready line, each import with the module that imported it first."""
    with served(env=env, ports=ports, python_options=("-X", "importtime")) as run:
        pass
    rows: list[ImportRow] = []
    for line in run.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)", line)
        if match:
            rows.append(ImportRow(int(match.group(1)), int(match.group(2)), len(match.group(3)), match.group(4)))
    # importtime lists a module after everything it imported, one indent deeper: the parent is the next
    # row with a smaller indent.
    waiting: list[ImportRow] = []
    for row in rows:
        while waiting and waiting[-1].depth > row.depth:
            waiting.pop().parent = row.module
        waiting.append(row)
    return rows


def package(module: str) -> str:
    top = module.split(".")[0]
    return top if top in ("murmuration", "websockets", "psutil", "platformdirs") else "stdlib and others"


def print_imports(rows: list[ImportRow], top: int) -> None:
    total = sum(row.own for row in rows)
    print(
        f"Imports of serve (python -X importtime, warm bytecode cache, inflated by importtime): {total / 1000:.1f} ms"
    )
    by_package = Counter[str]()
    for row in rows:
        by_package[package(row.module)] += row.own
    for name, own in by_package.most_common():
        print(f"  {own / 1000:6.1f} ms  {name} (own time of its modules)")
    print(f"Heaviest imports made by murmuration modules (cumulative; the first importer pays), top {top}:")
    outside = [row for row in rows if row.parent.startswith("murmuration") and not row.module.startswith("murmuration")]
    for row in sorted(outside, key=lambda row: row.cumulative, reverse=True)[:top]:
        print(f"  {row.cumulative / 1000:6.1f} ms  {row.module}  ← {row.parent}")
    print(f"Heaviest murmuration modules (own time), top {top}:")
    ours = [row for row in rows if row.module.startswith("murmuration")]
    for row in sorted(ours, key=lambda row: row.own, reverse=True)[:top]:
        print(f"  {row.own / 1000:6.1f} ms  {row.module}")


def summary(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return f"median {statistics.median(ms):6.1f} ms   min {min(ms):6.1f} ms   max {max(ms):6.1f} ms"


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="runs of each command (default 20)")
    parser.add_argument("--range-start", type=int, default=29500, help="first port of a 10-port range (default 29500)")
    parser.add_argument("--idle", type=float, default=1.0, help="seconds idle before reading RSS (default 1)")
    parser.add_argument("--importtime", type=int, default=0, metavar="N", help="also show serve's N heaviest imports")
    args = parser.parse_args()
    ports = range(args.range_start, args.range_start + 10)
    as_is = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="murmuration-pycache-") as pycache:
        cached = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        cached["PYTHONPYCACHEPREFIX"] = pycache
        time_baseline()  # warm the file cache and the bytecode cache before measuring
        time_serve(ports, as_is)
        time_serve(ports, cached)
        baseline: list[float] = []
        serve: list[float] = []
        serve_cached: list[float] = []
        for _ in range(args.runs):
            baseline.append(time_baseline())
            serve.append(time_serve(ports, as_is))
            serve_cached.append(time_serve(ports, cached))
        rss, uss = idle_memory(ports, as_is, args.idle)
        rows = import_rows(ports, cached) if args.importtime else []

    print(f"Startup, {args.runs} runs each, alternating ({sys.executable}, {os.cpu_count()} CPUs)")
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        print("  note: PYTHONDONTWRITEBYTECODE is set here, so 'as is' compiles modules without a .pyc at every start")
    print(f"  baseline  python -c 'import websockets'   spawn → exit    {summary(baseline)}")
    for label, times in (("as is", serve), ("bytecode cached", serve_cached)):
        ratio = statistics.median(times) / statistics.median(baseline)
        print(f"  serve ({label + ')':16} spawn → ready   {summary(times)}", end="")
        print(f"   {ratio:.2f}× baseline (goal ≤ {STARTUP_GOAL:g}×: {verdict(ratio <= STARTUP_GOAL)})")
    print(f"Idle memory of a ready instance after {args.idle:g} s: RSS {rss:.1f} MB, USS {uss:.1f} MB", end="")
    print(f"  (goal RSS ≤ {RSS_GOAL_MB:g} MB: {verdict(rss <= RSS_GOAL_MB)})")
    if rows:
        print_imports(rows, args.importtime)
    return 0


if __name__ == "__main__":
    sys.exit(main())
