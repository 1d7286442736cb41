"""Bringing crashed instances back: capped exponential backoff, and giving up on a crash loop."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from murmuration.tray.instance import InstanceState
from murmuration.tray.model import InstanceModel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RestartPolicy:
    """How soon a crashed instance is restarted, and when its crashes count as a loop."""

    first_delay: float = 1.0
    max_delay: float = 30.0
    loop_crashes: int = 5
    loop_window: float = 120.0

    def delay(self, crashes: int) -> float:
        """The wait before the restart that follows the `crashes`-th crash within the window."""
        return float(min(self.max_delay, self.first_delay * 2 ** max(0, crashes - 1)))


class Supervisor(QObject):
    """Restarts instances the model saw crash; after `loop_crashes` crashes within `loop_window` it stops trying."""

    restarting = Signal(str, float)  # id, seconds until the restart
    gave_up = Signal(str, str)  # id, the sentence to show

    def __init__(
        self,
        model: InstanceModel,
        policy: RestartPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.model = model
        self.policy = policy or RestartPolicy()
        self._clock = clock
        self._crashes: dict[str, list[float]] = {}
        self._pending: dict[str, asyncio.Task[None]] = {}
        model.crashed.connect(self._on_crashed)
        model.user_intent.connect(self.forget)
        model.instance_removed.connect(self.forget)

    def crash_count(self, instance_id: str) -> int:
        """Crashes of this instance within the current window."""
        now = self._clock()
        return sum(1 for t in self._crashes.get(instance_id, []) if now - t <= self.policy.loop_window)

    def _on_crashed(self, instance_id: str, reason: str) -> None:
        now = self._clock()
        history = [t for t in self._crashes.get(instance_id, []) if now - t <= self.policy.loop_window] + [now]
        self._crashes[instance_id] = history
        self._cancel(instance_id)
        instance = self.model.get(instance_id)
        name = instance.name if instance else instance_id
        if len(history) >= self.policy.loop_crashes:
            minutes = self.policy.loop_window / 60
            if minutes >= 1:
                window = f"{minutes:g} minute" + ("" if minutes == 1 else "s")
            else:
                window = f"{self.policy.loop_window:g} seconds"
            last = f" (the last time it {instance.last_exit})" if instance and instance.last_exit else ""
            message = (
                f"{name} crashed {len(history)} times in {window}{last}, so Murmuration stopped restarting it; "
                "see its log, then start it again."
            )
            log.warning("%s", message)
            self.model.mark_crash_loop(instance_id, message)
            self.gave_up.emit(instance_id, message)
            return
        delay = self.policy.delay(len(history))
        log.info("%s crashed (%s); restarting in %.1f s", name, reason, delay)
        self.model.mark_restart(instance_id, delay)
        self._pending[instance_id] = asyncio.ensure_future(self._restart_later(instance_id, delay))
        self.restarting.emit(instance_id, delay)

    async def _restart_later(self, instance_id: str, delay: float) -> None:
        await asyncio.sleep(delay)
        self._pending.pop(instance_id, None)
        instance = self.model.get(instance_id)
        if instance is not None and instance.state is InstanceState.CRASHED:
            await self.model.start(instance_id, user=False)

    def forget(self, instance_id: str) -> None:
        """A person took over this instance (or it is gone): no pending restart, no crash history."""
        self._cancel(instance_id)
        self._crashes.pop(instance_id, None)

    def _cancel(self, instance_id: str) -> None:
        task = self._pending.pop(instance_id, None)
        if task is not None:
            task.cancel()

    async def close(self) -> None:
        """Cancel every pending restart (the tray is quitting)."""
        tasks = list(self._pending.values())
        self._pending.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
