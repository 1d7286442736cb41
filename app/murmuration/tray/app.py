"""`murmuration` / `murmuration tray`: the desktop app's entry — one QApplication, asyncio inside it (qasync)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import logging.handlers
import os
import sys

import qasync  # type: ignore[import-untyped]
from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

from murmuration.tray.controller import Tray
from murmuration.tray.icons import app_icon
from murmuration.tray.settings import tray_log_file
from murmuration.tray.single_instance import SingleInstance

log = logging.getLogger(__name__)

NO_DISPLAY = (
    "murmuration: no display is available for the tray app; "
    "run `murmuration serve --instance NAME` to run an instance without one."
)
NOT_ANSWERING = "murmuration: another Murmuration tray is running but does not answer; try again in a moment."
# What a second `murmuration` says on its way out, so a launch from a terminal is never a silent no-op.
BROUGHT_FORWARD = "Murmuration is already running in the tray; its window was brought forward."
OPENING = "Murmuration is already running in the tray; it was brought forward to open {name}."


def tray_arguments(args: argparse.Namespace) -> list[str]:
    """The tray's own options as a command line, to hand over to a tray that already runs."""
    name = getattr(args, "open", None)
    return ["--open", name] if name else []


def has_display() -> bool:
    """Whether a window can be shown at all (Linux and the BSDs need X11 or Wayland; the others always can)."""
    if sys.platform in ("darwin", "win32"):
        return True
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform and not platform.startswith(("xcb", "wayland")):
        return True  # offscreen, vnc, eglfs…: chosen on purpose
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def prepare_environment() -> None:
    """Settings QtWebEngine needs before it loads."""
    if sys.platform.startswith("linux") and hasattr(os, "geteuid") and os.geteuid() == 0:
        # Chromium refuses to sandbox its renderers as root.
        os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")


def open_tray_log() -> None:
    """The tray's own log, rotated, beside the instances (`<base>/logs/tray.log`)."""
    path = tray_log_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=1 << 20, backupCount=2, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("murmuration")
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def main(args: argparse.Namespace) -> int:
    """Start the tray, or hand our arguments to the one that runs; the exit code is one of contract.py's."""
    forward = tray_arguments(args)
    guard = SingleInstance()
    if not guard.claim():
        _ = QCoreApplication.instance() or QCoreApplication(sys.argv[:1])
        if guard.hand_over(forward):
            name = getattr(args, "open", None)
            print(OPENING.format(name=name) if name else BROUGHT_FORWARD)
            return 0
        print(NOT_ANSWERING, file=sys.stderr)
        return 1
    if not has_display():
        print(NO_DISPLAY, file=sys.stderr)
        return 1
    prepare_environment()
    open_tray_log()
    # QtWebEngine (loaded later, when the first dashboard tab opens) shares OpenGL contexts with the app.
    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
    app = QApplication(sys.argv[:1])
    app.setApplicationName("Murmuration")
    app.setDesktopFileName("murmuration")
    app.setQuitOnLastWindowClosed(False)
    try:
        with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
            return runner.run(run(app, guard, forward))
    finally:
        guard.release()


async def run(app: QApplication, guard: SingleInstance, forward: list[str]) -> int:
    """Build the tray, run it until Quit, and return the exit code."""
    app.setWindowIcon(app_icon())
    available = QSystemTrayIcon.isSystemTrayAvailable()
    log.info("tray starting (pid %d); system tray available: %s", os.getpid(), available)
    tray = Tray(tray_available=available)
    guard.arguments_received.connect(tray.handle_arguments)
    guard.listen()
    tray.handle_arguments(forward, at_start=True)
    return await tray.run()
