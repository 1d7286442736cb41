"""Port storm: N processes started at the same moment on an N-port range, each wanting a port of its own.

Our lease (ARCHITECTURE.md, "Ports"): N real `murmuration serve` processes; a port counts as won only once the server
listens on it. Baseline: the original Murmuration's findAvailablePort — for each port from the start,
create a socket, bind, close, return the port; later (after the server's startup gap) the server binds
and listens on that port. The baseline runs as N concurrent Python child processes with the same range
and the same concurrency (all spawned at once).

    .venv/bin/python bench/ports.py [--n 100] [--range-start 29000] [--gap 50-200]
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

READY_TIMEOUT = 300.0
EXIT_TIMEOUT = 60.0

# One instance of the original's startup: probe-and-close from the start of the range, a startup gap,
# then the server's own bind+listen (Node's listen sets SO_REUSEADDR, so the server socket does too).
BASELINE_CHILD = r"""
import json, random, socket, sys, time

start, gap_low, gap_high = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])

def find_available_port(port):
    while port <= 65535:
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            port += 1
            continue
        finally:
            probe.close()
        return port
    raise OSError("no free port")

port = find_available_port(start)
time.sleep(random.uniform(gap_low, gap_high))
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    server.bind(("127.0.0.1", port))
    server.listen(128)
except OSError as exc:
    print(json.dumps({"port": port, "ok": False, "error": str(exc)}), flush=True)
    sys.exit(1)
print(json.dumps({"port": port, "ok": True}), flush=True)
sys.stdin.read()  # hold the port like a running server until the bench closes stdin
"""


@dataclass
class StormResult:
    algorithm: str
    processes: int
    ok: int
    failures: int
    distinct: int
    in_range: int
    wall: float
    notes: list[str] = field(default_factory=list)


def first_lines(
    procs: list[subprocess.Popen[bytes]], start: float, timeout: float
) -> tuple[list[dict[str, Any] | None], float]:
    """Each process's first stdout line as JSON (None when it closed stdout or timed out), and seconds from
    `start` (the first spawn) to the last line."""
    lines: list[dict[str, Any] | None] = [None] * len(procs)
    buffers = [b""] * len(procs)
    selector = selectors.DefaultSelector()
    for index, proc in enumerate(procs):
        assert proc.stdout is not None
        selector.register(proc.stdout, selectors.EVENT_READ, index)
    last = start
    deadline = time.monotonic() + timeout
    try:
        while selector.get_map() and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=max(deadline - time.monotonic(), 0)):
                index = key.data
                stream: IO[bytes] = key.fileobj  # type: ignore[assignment]
                chunk = os.read(stream.fileno(), 4096)
                buffers[index] += chunk
                if b"\n" in buffers[index] or not chunk:
                    selector.unregister(stream)
                    text = buffers[index].split(b"\n", 1)[0]
                    if text.strip():
                        lines[index] = json.loads(text)
                        last = time.monotonic()
    finally:
        selector.close()
    return lines, last - start


def stop_all(procs: list[subprocess.Popen[bytes]], how: str) -> list[int]:
    """End every process (SIGTERM or closing stdin) and return the exit codes; kills any that hang."""
    for proc in procs:
        if proc.poll() is None:
            if how == "sigterm":
                proc.send_signal(signal.SIGTERM)
            elif proc.stdin is not None:
                proc.stdin.close()
    codes = []
    deadline = time.monotonic() + EXIT_TIMEOUT
    for proc in procs:
        try:
            proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        codes.append(proc.returncode)
    for proc in procs:
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None and not stream.closed:
                stream.close()
    return codes


def lease_storm(n: int, ports: range, scratch: Path) -> StormResult:
    env = {**os.environ, "MURMURATION_HOME": str(scratch / "home"), "MURMURATION_PORT_RANGE": range_text(ports)}
    env.pop("WS_PORT", None)
    procs: list[subprocess.Popen[bytes]] = []
    start = time.monotonic()
    try:
        for index in range(n):
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "murmuration", "serve", "--data-dir", str(scratch / f"i{index}")],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    env=env,
                )
            )
        lines, wall = first_lines(procs, start, READY_TIMEOUT)
    finally:
        codes = stop_all(procs, "sigterm")
    ready = [line for line in lines if line is not None and line.get("event") == "ready"]
    won = [line["port"] for line in ready]
    not_ready = n - len(ready)
    duplicates = len(won) - len(set(won))
    bad_exits = sum(1 for line, code in zip(lines, codes, strict=True) if line is not None and code != 0)
    return StormResult(
        algorithm="lease (ours)",
        processes=n,
        ok=len(ready),
        failures=not_ready + duplicates + bad_exits,
        distinct=len(set(won)),
        in_range=sum(1 for port in won if port in ports),
        wall=wall,
        notes=[f"not ready {not_ready}, duplicate ports {duplicates}, nonzero exits after SIGTERM {bad_exits}"],
    )


def baseline_storm(n: int, ports: range, gap: tuple[float, float]) -> StormResult:
    procs: list[subprocess.Popen[bytes]] = []
    start = time.monotonic()
    try:
        for _ in range(n):
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", BASELINE_CHILD, str(ports.start), str(gap[0]), str(gap[1])],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                )
            )
        lines, wall = first_lines(procs, start, READY_TIMEOUT)
    finally:
        stop_all(procs, "stdin")
    answered = [line for line in lines if line is not None]
    picks = Counter(line["port"] for line in answered)
    listening = [line["port"] for line in answered if line["ok"]]
    bind_errors = sum(1 for line in answered if not line["ok"])
    silent = n - len(answered)
    duplicate_picks = sum(count for count in picks.values() if count > 1)
    duplicates = len(listening) - len(set(listening))  # the OS lets only one listen; kept as a check
    errors = sorted({line["error"] for line in answered if not line["ok"]})
    return StormResult(
        algorithm="probe-and-close (original)",
        processes=n,
        ok=len(listening),
        failures=bind_errors + silent + duplicates,
        distinct=len(set(listening)),
        in_range=sum(1 for port in listening if port in ports),
        wall=wall,
        notes=[
            f"bind errors {bind_errors}, no answer {silent}, duplicate listening ports {duplicates}; "
            f"{duplicate_picks} processes picked a port another also picked "
            f"({sum(1 for c in picks.values() if c > 1)} ports picked more than once)",
            *(f"error seen: {error}" for error in errors),
        ],
    )


def range_text(ports: range) -> str:
    return f"{ports.start}-{ports.stop - 1}"


def parse_gap(text: str) -> tuple[float, float]:
    low, _, high = text.partition("-")
    return float(low) / 1000, float(high or low) / 1000


def print_table(results: list[StormResult]) -> None:
    headers = ["algorithm", "processes", "ready/ok", "failures", "distinct ports", "in range", "wall time"]
    rows = [
        [r.algorithm, str(r.processes), str(r.ok), str(r.failures), str(r.distinct), str(r.in_range), f"{r.wall:.2f} s"]
        for r in results
    ]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    for row in [headers, ["-" * w for w in widths], *rows]:
        cells = [
            cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells))
    for r in results:
        for note in r.notes:
            print(f"  {r.algorithm}: {note}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100, help="processes per storm and ports in the range (default 100)")
    parser.add_argument("--range-start", type=int, default=29000, help="first port of the range (default 29000)")
    parser.add_argument("--gap", default="50-200", help="baseline's probe-to-bind gap in ms, LOW-HIGH (default 50-200)")
    args = parser.parse_args()
    ports = range(args.range_start, args.range_start + args.n)
    gap = parse_gap(args.gap)
    print(
        f"Port storm: {args.n} processes spawned at once on the {args.n}-port range {range_text(ports)} "
        f"({os.cpu_count()} CPUs, Python {sys.version.split()[0]}); baseline gap {args.gap} ms."
    )
    with tempfile.TemporaryDirectory(prefix="murmuration-bench-") as scratch:
        ours = lease_storm(args.n, ports, Path(scratch))
    original = baseline_storm(args.n, ports, gap)
    print()
    print_table([ours, original])
    return 0


if __name__ == "__main__":
    sys.exit(main())
