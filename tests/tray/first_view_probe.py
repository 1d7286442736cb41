"""Run on an X display by test_web_engine.py: does creating the first dashboard tab re-create the main window?

Prints one JSON line: whether the native window id stayed the same, and the window events seen meanwhile.
With `--without-surface` the window is built without `prepare_surface`, to show what the test would catch.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt
from PySide6.QtWidgets import QApplication, QWidget

QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)


class Events(QObject):
    WATCHED = (QEvent.Type.Hide, QEvent.Type.Show, QEvent.Type.WinIdChange)

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in self.WATCHED:
            self.seen.append(event.type().name)
        return False


def exposed(window: QWidget) -> bool:
    handle = window.windowHandle()
    return handle is not None and handle.isExposed()


async def shown(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the window never showed")
        await asyncio.sleep(0.02)


def main() -> int:
    import qasync  # type: ignore[import-untyped]

    from murmuration import registry
    from murmuration.home import base_folder
    from murmuration.tray import web_engine
    from murmuration.tray.controller import Tray

    if "--without-surface" in sys.argv:
        web_engine.prepare_surface = lambda window: None  # type: ignore[assignment]
    app = QApplication(["first-view-probe"])
    with contextlib.suppress(registry.InstanceExists):  # the second run (without the surface) reuses it
        registry.create("First", base_folder())

    async def run() -> dict[str, object]:
        tray = Tray(tray_available=False, warm_up=False)
        try:
            tray.start()  # no tray: the window shows at once
            window = tray.window
            await shown(lambda: tray.model.get("first") is not None)
            assert await tray.model.start("first")  # running, so its tab shows the dashboard itself
            await shown(lambda: exposed(window))
            before = int(window.winId())
            events = Events()
            window.installEventFilter(events)
            view = window.open_instance("first")
            assert view is not None
            # (The window's QWindow is asked afresh each time: a re-created window has a new one.)
            await shown(lambda: view.shown == "dashboard" and view.web.isVisible() and exposed(window))
            return {
                "view": view is not None,
                "same_window": int(window.winId()) == before,
                "visible": window.isVisible(),
                "events": list(events.seen),  # a copy: closing the tray below hides the window
            }
        finally:
            await tray.model.stop("first")
            await tray.close()

    with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
        print(json.dumps(runner.run(run())), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
