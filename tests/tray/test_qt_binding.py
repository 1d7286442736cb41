"""The Qt binding itself: the one bug that made us pin PySide6 below 6.12.0 must not come back."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    ping = Signal()


def test_emitting_a_signal_keeps_every_reference_it_returns() -> None:
    # PySide6 6.12.0 returned True from emit() without a reference of its own: on Python 3.11 each signal
    # took one from True until the interpreter crashed ("bool_dealloc"), a few thousand signals in.
    emitter = _Emitter()
    emitter.ping.connect(lambda: None)
    before = sys.getrefcount(True)
    for _ in range(1000):
        emitter.ping.emit()
    assert sys.getrefcount(True) - before > -10
