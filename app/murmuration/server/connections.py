"""Connection accounting: handshakes that have not yet proved anything, kept apart from connections that have.

Anyone on the machine can open a TCP connection to an instance and then say nothing, or say it one byte at a
time. Such a connection is *pending* until its request has been answered or let through the gate, and pending
connections live on a budget of their own: each has HANDSHAKE_TIMEOUT seconds, and when one arrives over
`max_pending` the oldest pending one is dropped. A flood or a slowloris therefore only ever pushes out its own
kind, while a real client, which sends its whole request at once, is answered within milliseconds of arriving.
Connections that passed the gate (authenticated WebSockets) are *open* and have their own, much higher cap,
which a busy tray, several dashboards and many agents do not come near.

The process's open-files limit is raised to its hard limit at start, and both budgets are sized from it, so the
file descriptors never run out underneath either kind (accept() failing would refuse both alike).
"""

from __future__ import annotations

import logging
import random
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger("murmuration.connections")

HANDSHAKE_TIMEOUT = 5.0  # seconds from accept to a complete, answered request
# Handshakes in progress at once. A real one lasts milliseconds; a silent one costs ~5 KB until its timeout.
# Holding a flood's connections beats dropping them: each one dropped comes straight back, and the churn keeps
# the kernel's accept queue full, where a real client's connect then waits behind the attacker's.
MAX_PENDING = 20_000
MAX_OPEN = 1024  # authenticated connections: tray, dashboards and agents together
RESERVED_FILES = 512  # descriptors kept for the database, logs and managed processes' pipes


def handshake_time() -> float:
    """How long one connection may take to send its request: HANDSHAKE_TIMEOUT, give or take a quarter.

    The spread matters under a flood: connections that arrived together would otherwise all expire together
    and come back together, filling the kernel's accept queue in bursts that a real client's connect hits.
    """
    return HANDSHAKE_TIMEOUT * random.uniform(0.75, 1.25)


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
    """Which connections are pending (with how to drop each) and which are open, within a Budget."""

    budget: Budget = field(default_factory=Budget)
    # Oldest first. An OrderedDict because a plain dict slows down when entries keep leaving from its front.
    _pending: OrderedDict[object, Callable[[], None]] = field(default_factory=OrderedDict)
    _open: set[object] = field(default_factory=set)
    dropped: int = 0  # pending connections pushed out by newer ones, for the log and the tests

    @property
    def pending(self) -> int:
        return len(self._pending)

    @property
    def open(self) -> int:
        return len(self._open)

    def arrived(self, connection: object, drop: Callable[[], None]) -> None:
        """A new TCP connection; over budget, the oldest pending one is dropped to make room."""
        self._pending[connection] = drop
        while len(self._pending) > self.budget.max_pending:
            _, drop_oldest = self._pending.popitem(last=False)
            self.dropped += 1
            if self.dropped % 1000 == 1:
                log.warning("dropping stalled handshakes: more than %d pending", self.budget.max_pending)
            drop_oldest()

    def drop_pending(self) -> None:
        """Drop every pending connection (the server is closing)."""
        while self._pending:
            _, drop = self._pending.popitem(last=False)
            drop()

    def answered(self, connection: object) -> None:
        """Its request came in whole and got an answer: no longer pending (the answer closes it)."""
        self._pending.pop(connection, None)

    def admit(self, connection: object) -> bool:
        """Let an authenticated connection in, if the open cap allows; False means refuse it."""
        self._pending.pop(connection, None)
        if len(self._open) >= self.budget.max_open:
            return False
        self._open.add(connection)
        return True

    def left(self, connection: object) -> None:
        """The connection closed, whatever it was."""
        self._pending.pop(connection, None)
        self._open.discard(connection)

    def full_message(self) -> str:
        return (
            f"This instance already has {self.budget.max_open:,} open connections, its limit; "
            "close some dashboards or agents and retry."
        )
