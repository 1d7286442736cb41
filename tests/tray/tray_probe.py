"""The real tray (`murmuration ARGS`), plus a control line on stdin/stdout so a test can look inside it.

Run as `python tests/tray/tray_probe.py tray`: the tray starts exactly as `murmuration tray` does; once it is up,
each JSON line on stdin is a question ({"id": 1, "cmd": "state"}) and each answer is one JSON line on stdout.
The probe only looks (state, page DOM, screenshots) and asks to quit; clicks and keys come from xdotool.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "app"))

import shiboken6
from PySide6.QtCore import QObject, QPoint, QRect, QSocketNotifier
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QMenu, QSystemTrayIcon

from murmuration.cli.main import main
from murmuration.tray import controller


def rect(r: QRect) -> list[int]:
    return [r.x(), r.y(), r.width(), r.height()]


class Probe(QObject):
    """Answers questions about the tray it lives in."""

    def __init__(self, tray: controller.Tray) -> None:
        super().__init__(tray)
        self.tray = tray
        self.buffer = b""
        self.notifier = QSocketNotifier(0, QSocketNotifier.Type.Read, self)
        self.notifier.activated.connect(self.read)
        self.reply({"event": "started", "pid": os.getpid()})

    def reply(self, message: dict[str, Any]) -> None:
        os.write(1, (json.dumps(message) + "\n").encode())

    def read(self, *_: object) -> None:
        chunk = os.read(0, 65536)
        if not chunk:
            self.notifier.setEnabled(False)
            return
        self.buffer += chunk
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            request = json.loads(line)
            try:
                self.handle(request)
            except Exception as exc:  # the test reads the failure instead of hanging
                self.reply({"id": request.get("id"), "error": repr(exc)})

    def handle(self, request: dict[str, Any]) -> None:
        ident, cmd = request.get("id"), request["cmd"]
        if cmd == "state":
            self.reply({"id": ident, **self.state()})
        elif cmd == "js":
            view = self.tray.window.views[request["instance"]]
            view.page.runJavaScript(request["script"], 0, lambda value: self.reply({"id": ident, "result": value}))
        elif cmd == "grab":
            window = self.tray.window.grab().save(request["window"])
            screen = QGuiApplication.primaryScreen().grabWindow(0).save(request["screen"])
            self.reply({"id": ident, "ok": bool(window and screen)})
        elif cmd == "row":
            table = self.tray.window.table
            index = table.table.index(table.table.row_of(request["instance"]), 0)
            r = table.visualRect(index)
            centre = table.viewport().mapToGlobal(QPoint(r.center().x(), r.center().y()))
            self.reply({"id": ident, "x": centre.x(), "y": centre.y()})
        elif cmd == "open":  # as a double-click on the instance's row would (for benchmarks)
            self.tray.open_instance(request["instance"])
            self.reply({"id": ident, "ok": True})
        elif cmd == "hide":  # as closing the window would (the tray goes on)
            self.tray.window.hide()
            self.reply({"id": ident, "ok": True})
        elif cmd == "quit":
            self.tray.actions.run(self.tray.quit(stop=bool(request.get("stop"))))
            self.reply({"id": ident, "ok": True})
        else:
            self.reply({"id": ident, "error": f"unknown command {cmd!r}"})

    def state(self) -> dict[str, Any]:
        tray = self.tray
        icon = tray.icon
        popup = QApplication.activePopupWidget()
        dialog = tray.dialog
        window = tray.window
        return {
            "tray_available": QSystemTrayIcon.isSystemTrayAvailable(),
            "icon": None
            if icon is None
            else {
                "visible": icon.icon.isVisible(),
                "geometry": rect(icon.icon.geometry()),
                "state": icon.state.value,
                "tooltip": icon.icon.toolTip(),
            },
            "popup": [a.text() for a in popup.actions() if not a.isSeparator() and a.isVisible()]
            if isinstance(popup, QMenu)
            else None,
            "dialog": None
            if dialog is None or not shiboken6.isValid(dialog) or not dialog.isVisible()
            else {"name": dialog.name.text(), "geometry": rect(dialog.frameGeometry())},
            "window": {
                "visible": window.isVisible(),
                "tabs": [window.tabs.tabText(i) for i in range(window.tabs.count())],
                "current": window.tabs.tabText(window.tabs.currentIndex()),
                "shown": {key: view.shown for key, view in window.views.items()},
                "titles": {key: view.page.title() for key, view in window.views.items()},
            },
            "instances": [
                {"id": i.id, "name": i.name, "state": i.state.value, "pid": i.pid, "port": i.port}
                for i in tray.model.instances()
            ],
            "notifications": tray.notifications,
        }


_start = controller.Tray.start


def start(self: controller.Tray) -> None:
    _start(self)
    self.probe = Probe(self)  # type: ignore[attr-defined]


controller.Tray.start = start  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
