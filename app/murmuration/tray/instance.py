"""One instance as the tray sees it, and the states it can be in (plain data: no Qt, no I/O)."""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field

from murmuration.datafolder import DataFolder, Runtime
from murmuration.status import State


class InstanceState(enum.StrEnum):
    """What the tray knows about one instance."""

    # The states an instance is in on its own are status.py's, in its words (`ls` says the same).
    STOPPED = State.STOPPED.value
    STARTING = "starting"
    RUNNING = State.RUNNING.value
    NOT_RESPONDING = State.NOT_RESPONDING.value
    STOPPING = "stopping"
    CRASHED = "crashed"
    CRASH_LOOP = "crash loop"
    FAILED = "failed"

    @property
    def label(self) -> str:
        """The state as a person reads it in a menu or a table."""
        return {
            InstanceState.STOPPED: "Stopped",
            InstanceState.STARTING: "Starting…",
            InstanceState.RUNNING: "Running",
            InstanceState.NOT_RESPONDING: "Not responding",
            InstanceState.STOPPING: "Stopping…",
            InstanceState.CRASHED: "Crashed",
            InstanceState.CRASH_LOOP: "Keeps crashing",
            InstanceState.FAILED: "Failed to start",
        }[self]

    @property
    def troubled(self) -> bool:
        return self in (InstanceState.CRASHED, InstanceState.CRASH_LOOP, InstanceState.FAILED)

    @property
    def busy(self) -> bool:
        return self in (InstanceState.STARTING, InstanceState.STOPPING, InstanceState.NOT_RESPONDING)


class OverallState(enum.StrEnum):
    """The one state the tray icon shows for all instances together."""

    IDLE = "idle"  # nothing runs
    OK = "ok"  # all well
    BUSY = "busy"  # something is starting, stopping or not answering yet
    TROUBLE = "trouble"  # something crashed or failed to start


@dataclass
class Instance:
    """One instance as the tray sees it."""

    id: str
    name: str
    folder: DataFolder
    state: InstanceState = InstanceState.STOPPED
    runtime: Runtime | None = field(default=None, repr=False)
    memory: int | None = None
    autostart: bool = False
    # The last thing worth telling about it, one sentence ("" when all is well).
    message: str = ""
    # When the supervisor will restart it (time.monotonic()), while it waits to.
    restart_at: float | None = None

    @property
    def pid(self) -> int | None:
        return self.runtime.pid if self.runtime else None

    @property
    def port(self) -> int | None:
        return self.runtime.port if self.runtime else None

    @property
    def url(self) -> str | None:
        return self.runtime.url if self.runtime else None

    @property
    def running(self) -> bool:
        return self.state is InstanceState.RUNNING

    def uptime(self, now: float | None = None) -> float | None:
        """Seconds since its server process started, while it runs."""
        if self.runtime is None or not self.runtime.create_time or not self.running:
            return None
        return max(0.0, (time.time() if now is None else now) - self.runtime.create_time)
