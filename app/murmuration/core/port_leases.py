"""The machine-wide table of ports leased to managed processes, so no two of them get the same port.

Every instance of every user session consults one file in the base folder, under an OS lock held only while it
reads and writes. A lease names its holder (the server's pid and start time): a lease whose holder died is taken
back by the next reader, and a lease ends when its process ends. A port is leased only if it can also be bound
right now, so a program outside Murmuration that already listens on it is skipped too.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

from murmuration.core.errors import Conflict

DEFAULT_RANGE = range(10000, 11000)  # below every OS's ephemeral range, apart from the usual dev-server ports
RANGE_ENV = "MURMURATION_PROCESS_PORT_RANGE"
LOCK_WAIT = 10.0  # seconds: the lock is held for microseconds, so waiting longer means something is wrong


@dataclass(frozen=True)
class Lease:
    """One port held for one managed process of one instance."""

    port: int
    process_id: str
    title: str
    instance: str
    holder_pid: int
    holder_started: float

    def holder_alive(self) -> bool:
        """Whether the server holding this lease still runs (its pid and start time both match)."""
        try:
            return bool(abs(psutil.Process(self.holder_pid).create_time() - self.holder_started) < 0.01)
        except psutil.Error:
            return False


def range_from_environment() -> range:
    """The ports to lease from: `MURMURATION_PROCESS_PORT_RANGE=A-B` (inclusive), else 10000–10999."""
    text = os.environ.get(RANGE_ENV, "")
    first, sep, last = text.partition("-")
    if sep and first.strip().isdigit() and last.strip().isdigit():
        low, high = int(first), int(last)
        if 1024 <= low <= high <= 65535:
            return range(low, high + 1)
    return DEFAULT_RANGE


def can_bind(port: int) -> bool:
    """Whether nothing listens on `port` now (a bind on every IPv4 address would collide with any listener)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        if sys.platform == "win32":
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
        try:
            probe.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


class PortLeases:
    """The lease table in `folder`, used by one server (the holder of the leases it makes)."""

    def __init__(self, folder: Path, instance: str, ports: range | None = None) -> None:
        self.path = folder / "port-leases.json"
        self.lock_path = folder / "port-leases.lock"
        self.instance = instance
        self.ports = ports if ports is not None else range_from_environment()
        self._holder_pid = os.getpid()
        self._holder_started = psutil.Process().create_time()

    def lease(self, process_id: str, title: str, fixed: int | None = None, prefer: int | None = None) -> int:
        """Lease `fixed`, or else a free port (`prefer` first: a restarted process keeps its port when it can)."""
        with self._locked() as leases:
            if fixed is not None:
                self._check_fixed(leases, fixed)
                port = fixed
            else:
                port = self._free_port(leases, prefer)
            leases[port] = Lease(port, process_id, title, self.instance, self._holder_pid, self._holder_started)
            return port

    def check_fixed(self, port: int) -> None:
        """Conflict, naming the holder, when `port` is leased or in use; nothing is leased."""
        with self._locked() as leases:
            self._check_fixed(leases, port)

    def _check_fixed(self, leases: dict[int, Lease], port: int) -> None:
        holder = leases.get(port)
        if holder is not None:
            raise Conflict(
                f"Port {port} is leased to process {holder.process_id} ({holder.title[:80]!r}) of instance "
                f"{holder.instance!r}; stop it or ask for any free port with port: true.",
                "port",
            )
        if not can_bind(port):
            raise Conflict(
                f"Port {port} is in use by a program outside Murmuration; pick another or use port: true.", "port"
            )

    def _free_port(self, leases: dict[int, Lease], prefer: int | None) -> int:
        candidates = ([prefer] if prefer is not None and prefer in self.ports else []) + list(self.ports)
        for port in candidates:
            if port not in leases and can_bind(port):
                return port
        raise Conflict(
            f"Every port from {self.ports.start} to {self.ports.stop - 1} is leased or in use; stop some processes "
            f"or widen {RANGE_ENV}.",
            "port",
        )

    def release(self, process_id: str) -> None:
        """End every lease of `process_id` made by this server."""
        with self._locked() as leases:
            for port, lease in list(leases.items()):
                if lease.process_id == process_id and lease.holder_pid == self._holder_pid:
                    del leases[port]

    def holder_of(self, port: int) -> Lease | None:
        with self._locked() as leases:
            return leases.get(port)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[int, Lease]]:
        """The table, read under the lock with dead holders' leases dropped; written back on the way out."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            _lock(fd)
            try:
                leases = {lease.port: lease for lease in read_leases(self.path) if lease.holder_alive()}
                before = dict(leases)
                yield leases
                if leases != before or len(before) != len(read_leases(self.path)):
                    _write(self.path, list(leases.values()))
            finally:
                _unlock(fd)
        finally:
            os.close(fd)


def read_leases(path: Path) -> list[Lease]:
    """Every lease recorded in the table at `path`, live or not; a damaged table counts as empty."""
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
        return [Lease(**entry) for entry in entries]
    except (OSError, ValueError, TypeError):
        return []


def list_leases(base_folder: Path) -> list[dict[str, Any]]:
    """Every lease in the base folder's table, each with whether its holder still runs (for `doctor`)."""
    leases = read_leases(base_folder / "port-leases.json")
    return [{**asdict(lease), "holder_alive": lease.holder_alive()} for lease in leases]


def _write(path: Path, leases: list[Lease]) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps([asdict(lease) for lease in leases]), encoding="utf-8")
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


if sys.platform == "win32":
    import msvcrt

    def _lock(fd: int) -> None:
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            try:
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
