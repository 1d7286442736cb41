"""Knowing at once when a running server ends, without looking at it again and again.

A server killed outright changes no file, so the folder watcher cannot tell. On Linux each server the tray
shows as running is held by a pidfd (`os.pidfd_open`), which becomes readable when the process ends, and a
QSocketNotifier turns that into `ended`: nothing is polled while all is well. Where there are no pidfds
(macOS, Windows, kernels before 5.3) the followed servers are looked at every `interval` seconds instead,
one look at the process table each, and only while at least one is followed.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

from PySide6.QtCore import QObject, QSocketNotifier, QTimer, Signal

from murmuration.datafolder import Runtime
from murmuration.status import is_alive


@dataclass
class _Followed:
    instance_id: str
    runtime: Runtime
    fd: int | None = None
    notifier: QSocketNotifier | None = None


class ServerWatch(QObject):
    """Follows server processes until they end; `ended(instance id, pid)` when one has.

    A process is followed to its end even after its instance shows another server or none (a server stopping
    removes its runtime.json before it exits), so that the tray can collect each child it started.
    """

    ended = Signal(str, int)

    def __init__(self, interval: float = 2.0, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._followed: dict[int, _Followed] = {}
        self._look = QTimer(self)
        self._look.setInterval(max(1, int(interval * 1000)))
        self._look.timeout.connect(self._look_at_all)

    @property
    def polling(self) -> bool:
        """Whether a timer looks at the servers (only where the platform cannot announce their end)."""
        return self._look.isActive()

    def follow(self, instance_id: str, runtime: Runtime) -> None:
        """From now on, say `ended(instance_id, pid)` when the server of `runtime` ends (at once if it has)."""
        known = self._followed.get(runtime.pid)
        if known is not None and known.runtime == runtime:
            return
        if known is not None:
            self._drop(runtime.pid)  # that pid now names a newer server
        followed = _Followed(instance_id, runtime, _pidfd(runtime.pid))
        self._followed[runtime.pid] = followed
        # Opened after the pid was read: it may name a newer process by now, or none.
        if not is_alive(runtime):
            self._end(runtime.pid)
            return
        if followed.fd is not None:
            notifier = QSocketNotifier(followed.fd, QSocketNotifier.Type.Read, self)
            notifier.activated.connect(lambda *_: self._end(runtime.pid))
            followed.notifier = notifier
        elif not self._look.isActive():
            self._look.start()

    def followed(self) -> set[int]:
        """The pids followed now."""
        return set(self._followed)

    def close(self) -> None:
        for pid in list(self._followed):
            self._drop(pid)

    def _drop(self, pid: int) -> _Followed | None:
        followed = self._followed.pop(pid, None)
        if followed is None:
            return None
        if followed.notifier is not None:
            followed.notifier.setEnabled(False)
            followed.notifier.deleteLater()
        if followed.fd is not None:
            with contextlib.suppress(OSError):
                os.close(followed.fd)
        if self._look.isActive() and all(f.fd is not None for f in self._followed.values()):
            self._look.stop()
        return followed

    def _end(self, pid: int) -> None:
        followed = self._drop(pid)
        if followed is not None:
            self.ended.emit(followed.instance_id, pid)

    def _look_at_all(self) -> None:
        for pid, followed in list(self._followed.items()):
            if followed.fd is None and not is_alive(followed.runtime):
                self._end(pid)


def _pidfd(pid: int) -> int | None:
    """A descriptor that becomes readable when process `pid` ends, where the platform has one."""
    opener = getattr(os, "pidfd_open", None)
    if opener is None:
        return None
    try:
        return int(opener(pid))
    except OSError:
        return None  # gone already (is_alive says so next), or a kernel without pidfds
