"""One instance as the tray sees it, and the states it can be in (plain data: no Qt, no I/O)."""

from __future__ import annotations

import enum
import math
import time
import unicodedata
from dataclasses import dataclass, field

from murmuration.datafolder import DataFolder, Runtime
from murmuration.status import State


class InstanceState(enum.StrEnum):
    """What the tray knows about one instance."""

    # The states an instance is in on its own are status.py's, in its words (`ls` says the same). The others
    # are what only the tray knows: an intent under way, or that it gave up restarting a crashed one.
    STOPPED = State.STOPPED.value
    STARTING = "starting"
    RUNNING = State.RUNNING.value
    NOT_RESPONDING = State.NOT_RESPONDING.value
    STOPPING = "stopping"
    CRASHED = State.CRASHED.value
    CRASH_LOOP = "crash loop"
    FAILED = "failed"

    @property
    def label(self) -> str:
        """The state as a person reads it in a menu or a table (status.py's words for the states `ls` shows)."""
        if self.value in State.__members__.values():
            return State(self.value).label
        return {
            InstanceState.STARTING: "Starting…",
            InstanceState.STOPPING: "Stopping…",
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


# Bidi classes that can move text: right-to-left letters and digits, and the embedding, override and isolate
# controls. A name without any of them reads the same isolated or not, and is shown as it is.
_MOVING = {"R", "AL", "AN", "RLE", "RLO", "LRE", "LRO", "PDF", "RLI", "LRI", "FSI", "PDI"}


def shown(text: str) -> str:
    """`text` (a name from a data folder) made safe to show beside other text.

    Control characters go (a newline would break a menu item), and a name that holds right-to-left text or a
    bidi control is wrapped in FIRST STRONG ISOLATE ... POP DIRECTIONAL ISOLATE, so it cannot reorder the words
    around it in a menu, the table, a tab or a notification.
    """
    kept = "".join(c for c in text if unicodedata.category(c) != "Cc")
    if any(unicodedata.bidirectional(c) in _MOVING for c in kept):
        return f"\u2068{kept}\u2069"
    return kept


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
    # The project folder its processes run in ("" while instance.json cannot be read).
    cwd: str = ""
    # The last thing worth telling about it, one sentence ("" when all is well).
    message: str = ""
    # When the supervisor will restart it (time.monotonic()), while it waits to.
    restart_at: float | None = None
    # How its server last ended unasked, in words ("exited with status 1: …"); "" before any crash.
    last_exit: str = ""

    @property
    def label(self) -> str:
        """The name as menus, the table, tabs and messages show it (see `shown`)."""
        return shown(self.name)

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

    # --- what a person may ask of it now: the one rule each, for every menu, button and page -----------------

    @property
    def can_start(self) -> bool:
        """Start: nothing serves it and no start or stop is under way."""
        return self.runtime is None and not self.state.busy

    @property
    def can_stop(self) -> bool:
        """Stop: a server runs, a start is under way, or a crashed one waits for its restart."""
        return self.runtime is not None or self.state in (InstanceState.STARTING, InstanceState.CRASHED)

    @property
    def can_restart(self) -> bool:
        """Restart: it runs and answers."""
        return self.running

    @property
    def can_open_in_browser(self) -> bool:
        """Open in browser (and sign in there): it runs and answers."""
        return self.running

    @property
    def can_copy_url(self) -> bool:
        """Copy URL: a server has an address, even one that does not answer yet."""
        return self.url is not None

    def restart_in(self, now: float | None = None) -> int | None:
        """Whole seconds (rounded up) until the supervisor restarts it, while it waits to."""
        if self.restart_at is None or self.state is not InstanceState.CRASHED:
            return None
        return max(0, math.ceil(self.restart_at - (time.monotonic() if now is None else now)))

    def status_sentence(self) -> str:
        """What is worth telling now: its message, with the wait before a restart when there is one."""
        wait = self.restart_in()
        if wait is None:
            return self.message
        return f"{self.message.rstrip('.')}; restarting in {wait} s." if self.message else f"Restarting in {wait} s."

    def uptime(self, now: float | None = None) -> float | None:
        """Seconds since its server process started, while it runs."""
        if self.runtime is None or not self.runtime.create_time or not self.running:
            return None
        return max(0.0, (time.time() if now is None else now) - self.runtime.create_time)
