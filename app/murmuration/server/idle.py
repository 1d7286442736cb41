"""Idle exit: a server started for agents stops by itself once nobody has needed it for a while.

Idle means no WebSocket client connected (no bridge, no dashboard), no process starting, running or
stopping, and nothing queued — so a server never leaves work behind when it goes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from murmuration.core.processes import ProcessManager
from murmuration.server.connections import Connections

log = logging.getLogger("murmuration.idle")

BUSY_STATES = ("queued", "starting", "running", "stopping")


def is_idle(connections: Connections, processes: ProcessManager) -> bool:
    """True when no client is connected and no process runs or waits."""
    if connections.open > 0:
        return False
    counts = processes.records.counts()
    return not any(counts[state] for state in BUSY_STATES)


async def stop_when_idle(limit: float, idle: Callable[[], bool], stop: Callable[[], None]) -> None:
    """Call `stop` once `idle()` has held for `limit` seconds on end; any activity restarts the count."""
    # Checking ten times per limit (at most every 5 s) keeps the overshoot small without busy polling.
    every = max(0.05, min(5.0, limit / 10))
    idle_since: float | None = None
    while True:
        await asyncio.sleep(every)
        now = time.monotonic()
        if not idle():
            idle_since = None
            continue
        if idle_since is None:
            idle_since = now
        elif now - idle_since >= limit:
            log.info("idle for %.0f s with no client and no process: stopping", limit)
            stop()
            return
