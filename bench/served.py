"""A real `murmuration serve` for the benchmarks: spawned, waited for, and stopped with SIGTERM afterwards."""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from murmuration.datafolder import DataFolder


@dataclass
class Served:
    """A ready server: its process, data folder, ready line, how long that line took, and (once stopped) stderr."""

    proc: subprocess.Popen[bytes]
    folder: DataFolder
    ready: dict[str, Any]
    ready_after: float
    stderr: str = ""

    @property
    def url(self) -> str:
        return str(self.ready["url"])

    @property
    def token(self) -> str:
        runtime = self.folder.read_runtime()
        assert runtime is not None
        return runtime.token


@contextmanager
def served(
    data: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    ports: range | None = None,
    python_options: tuple[str, ...] = (),
) -> Iterator[Served]:
    """Serve `data` (default: a fresh folder) with `env` (default: this environment), in a fresh home
    unless `env` names one."""
    with tempfile.TemporaryDirectory(prefix="murmuration-bench-") as scratch:
        environment = dict(env if env is not None else os.environ)
        if env is None or "MURMURATION_HOME" not in env:
            environment["MURMURATION_HOME"] = str(Path(scratch, "home"))
        if ports is not None:
            environment["MURMURATION_PORT_RANGE"] = f"{ports.start}-{ports.stop - 1}"
        environment.pop("WS_PORT", None)
        folder = data or Path(scratch, "data")
        command = [sys.executable, *python_options, "-m", "murmuration", "serve", "--data-dir", str(folder)]
        # stderr goes to a file: a pipe nobody reads (or -X importtime's output) could fill up and stall the server.
        with open(Path(scratch, "stderr"), "w+b") as err:
            start = time.perf_counter()
            proc = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, env=environment
            )
            assert proc.stdout is not None
            run: Served | None = None
            try:
                line = proc.stdout.readline()  # the server prints nothing else; EOF means it died
                ready_after = time.perf_counter() - start
                ready = json.loads(line or b"{}")
                if ready.get("event") != "ready":
                    proc.wait(timeout=10)
                    err.seek(0)
                    raise RuntimeError(f"serve did not get ready: {err.read().decode()}")
                run = Served(proc, DataFolder(folder), ready, ready_after)
                yield run
            finally:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                proc.stdout.close()
                if run is not None:
                    err.seek(0)
                    run.stderr = err.read().decode()


def print_latencies(figures: Mapping[str, list[float]], heading: str) -> None:
    """One row per kind of call: p50, p95 and max in ms; a kind named "ping" is marked as the baseline."""
    print(f"  {heading:28} {'p50':>9} {'p95':>9} {'max':>9}")
    for kind, values in figures.items():
        ordered = sorted(values)
        p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
        label = f"{kind} (baseline)" if kind == "ping" else kind
        print(f"  {label:28} {statistics.median(ordered):7.2f}ms {p95:7.2f}ms {ordered[-1]:7.2f}ms")
