"""Shared fixtures: a fresh MURMURATION_HOME per test, port blocks per worker, real servers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from murmuration import registry
from murmuration.client import InstanceClient
from murmuration.operations.table import CHECK_RESULTS_ENV
from murmuration.server.lifecycle import RunningInstance, running_instance

READY_TIMEOUT = 60.0


def worker_index() -> int:
    """0 for the main process, n for pytest-xdist worker gw<n>."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(name.removeprefix("gw") or 0)


def port_block(slot: int, size: int = 100) -> range:
    """A block of ports that only this worker uses, below the OS's ephemeral range (32768+).

    Slot 0 is the default range of every test; other slots are for tests that need a block alone.
    `MURMURATION_TEST_PORT_BASE` moves all blocks, so two checkouts can run their suites side by side.
    """
    base = int(os.environ.get("MURMURATION_TEST_PORT_BASE", "20000"))
    start = base + worker_index() * 1000 + slot * 100
    return range(start, start + size)


def range_text(ports: range) -> str:
    return f"{ports.start}-{ports.stop - 1}"


def uses_bundle(item: pytest.Item) -> bool:
    return "bundle" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The frozen-bundle tests go last: they wait for the build, which `frozen_build_started` begins first thing.

    xdist hands tests out in this order, so every worker runs the rest of the suite while the bundle builds.
    """
    items[:] = [item for item in items if not uses_bundle(item)] + [item for item in items if uses_bundle(item)]


@pytest.fixture(scope="session", autouse=True)
def frozen_build_started(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """When the session has frozen tests, start building the bundle now, beside the other tests (once per session)."""
    started = None
    if sys.platform.startswith("linux") and any(uses_bundle(item) for item in request.session.items):
        from tests.packaging.conftest import start_frozen_build

        started = start_frozen_build(tmp_path_factory)
    yield
    if started is not None:
        started.wait()  # this worker may be done before the one that runs the frozen tests: never leave the build


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty base folder for this test alone; no test touches a real home."""
    base = tmp_path / "home"
    monkeypatch.setenv("MURMURATION_HOME", str(base))
    monkeypatch.setenv("MURMURATION_PORT_RANGE", range_text(port_block(0)))
    # Ports leased to managed processes come from a block of their own, apart from instances' ports.
    monkeypatch.setenv("MURMURATION_PROCESS_PORT_RANGE", range_text(port_block(9)))
    monkeypatch.delenv("WS_PORT", raising=False)
    # Every result an instance of the suite returns is checked against its operation's result schema.
    monkeypatch.setenv(CHECK_RESULTS_ENV, "1")
    return base


@dataclass
class ServeProcess:
    """A `murmuration serve` child process and what it said."""

    proc: subprocess.Popen[bytes]
    ready: dict[str, Any] | None = None
    stderr: bytes = b""

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> dict[str, Any]:
        """The ready line as a dict; fails the test with the server's stderr when it never comes."""
        assert self.proc.stdout is not None
        line: list[bytes] = []
        reader = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout)
        if not line or not line[0]:
            self.finish(timeout=5)
            raise AssertionError(f"no ready line (exit {self.proc.returncode}): {self.stderr.decode()}")
        self.ready = json.loads(line[0])
        return self.ready

    def finish(self, timeout: float = 30) -> int:
        """Wait for the process to exit (after a signal, say) and collect its stderr."""
        try:
            _, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        self.stderr += err or b""
        return self.proc.returncode

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)


@dataclass
class Servers:
    """Spawns `murmuration serve` processes and ends every one of them after the test."""

    spawned: list[ServeProcess] = field(default_factory=list)

    def spawn(self, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> ServeProcess:
        proc = subprocess.Popen(
            [sys.executable, "-m", "murmuration", "serve", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **(env or {})},
            cwd=cwd,
        )
        server = ServeProcess(proc)
        self.spawned.append(server)
        return server

    def start(self, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> ServeProcess:
        server = self.spawn(*args, env=env, cwd=cwd)
        server.wait_ready()
        return server

    def end_all(self) -> None:
        for server in self.spawned:
            if server.proc.poll() is None:
                server.signal(signal.SIGTERM)
        for server in self.spawned:
            server.finish(timeout=30)


@pytest.fixture
def servers() -> Iterator[Servers]:
    pool = Servers()
    try:
        yield pool
    finally:
        pool.end_all()


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run `murmuration ARGS` as a user would, in a child process, and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "murmuration", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def cli_instances() -> Iterator[list[str]]:
    """Names of instances a test started with `murmuration start`; each is stopped afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        run_cli("stop", name, "--timeout", "5")


@pytest.fixture
async def instance(home: Path) -> AsyncIterator[RunningInstance]:
    """A real instance served in this test's own event loop on an ephemeral port."""
    folder = registry.create("Test Instance", home)
    async with running_instance(folder, port_range=range(0)) as live:
        yield live


@pytest.fixture
async def client(instance: RunningInstance) -> AsyncIterator[InstanceClient]:
    """A client connected to `instance` with its bearer token, as the CLI, tray and MCP bridge connect."""
    async with await InstanceClient.connect(instance.url, instance.token) as connected:
        yield connected
