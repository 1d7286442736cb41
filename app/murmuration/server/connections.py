"""Connection accounting: what this process can hold, and the authenticated connections it holds.

Connections that have not yet proved anything wait at the door (`door.py`) on a budget of their own; those that
passed the gate (authenticated WebSockets) are *open* and have a much higher cap than a busy tray, several
dashboards and many agents come near. A flood or a slowloris therefore only ever pushes out its own kind.

The process's open-files limit is raised to its hard limit at start, and both budgets are sized from it, so the
file descriptors never run out underneath either kind (accept() failing would refuse both alike).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

log = logging.getLogger("murmuration.connections")

# Callers waiting at the door at once. A real one waits milliseconds; a silent one costs a socket and ~2 KB until
# its timeout. Holding a flood's connections beats dropping them: each one dropped comes straight back, and the
# churn keeps the kernel's accept queue full, where a real client's connect then waits behind the attacker's.
MAX_PENDING = 20_000
MAX_OPEN = 1024  # authenticated connections: tray, dashboards and agents together
RESERVED_FILES = 512  # descriptors kept for the database, logs and managed processes' pipes


def open_files_limit() -> int | None:
    """This process's open-files soft limit; None where there is none (Windows) or it is unlimited."""
    try:
        import resource
    except ImportError:
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else soft


def raise_open_files_limit() -> int | None:
    """Raise this process's open-files soft limit as far as its hard limit allows; the soft limit after."""
    try:
        import resource
    except ImportError:
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # macOS reports an unlimited hard limit but refuses more than its OPEN_MAX: try the hard limit, then less.
    for wanted in (hard, 1 << 20, 1 << 16, 10240):
        if wanted == resource.RLIM_INFINITY or (soft != resource.RLIM_INFINITY and wanted <= soft):
            continue
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError):
            continue
        log.info("open-files limit raised from %d to %d", soft, wanted)
        break
    return open_files_limit()


@dataclass(frozen=True)
class Budget:
    """How many pending and open connections this process can hold."""

    max_pending: int = MAX_PENDING
    max_open: int = MAX_OPEN

    @classmethod
    def for_files(cls, limit: int | None) -> Budget:
        """The budget that fits an open-files limit (the defaults when it is high or unknown)."""
        if limit is None:
            return cls()
        spare = max(64, limit - RESERVED_FILES)
        # The open cap first (at most half of what is left, so neither kind can take all), the rest for pending.
        max_open = min(MAX_OPEN, spare // 2)
        return cls(max_pending=min(MAX_PENDING, spare - max_open), max_open=max_open)


@dataclass
class Connections:
    """The open (authenticated) connections, within a Budget's cap."""

    budget: Budget = field(default_factory=Budget)
    _open: set[object] = field(default_factory=set)

    @property
    def open(self) -> int:
        return len(self._open)

    def admit(self, connection: object) -> bool:
        """Let an authenticated connection in, if the open cap allows; False means refuse it."""
        if len(self._open) >= self.budget.max_open:
            return False
        self._open.add(connection)
        return True

    def left(self, connection: object) -> None:
        """The connection closed, whatever it was."""
        self._open.discard(connection)

    def full_message(self) -> str:
        return (
            f"This instance already has {self.budget.max_open:,} open connections, its limit; "
            "close some dashboards or agents and retry."
        )
