"""Where a new window opens: on the screen a person is looking at, whole, never partly off it.

That screen is the active window's (the log opened from the main window opens beside it), else the one under
the cursor (opened from the tray icon's menu), else the primary one. The window keeps the size it asks for
where that fits the screen's free area (the desktop's panels left out), frame included, and shrinks where not.
"""

from __future__ import annotations

from PySide6.QtCore import QMargins, QRect, QSize
from PySide6.QtGui import QCursor, QGuiApplication, QScreen
from PySide6.QtWidgets import QApplication, QWidget

# A window learns its frame from the window manager only once it is shown; until then, room for a title bar
# and borders as desktops draw them.
FRAME_GUESS = QMargins(8, 32, 8, 8)


def fit(available: QRect, size: QSize, frame: QMargins) -> QRect:
    """The geometry (without frame) of a window of `size`, shrunk until it and `frame` fit `available`, centred."""
    width = max(1, min(size.width(), available.width() - frame.left() - frame.right()))
    height = max(1, min(size.height(), available.height() - frame.top() - frame.bottom()))
    outer_width = width + frame.left() + frame.right()
    outer_height = height + frame.top() + frame.bottom()
    x = available.x() + max(0, (available.width() - outer_width) // 2) + frame.left()
    y = available.y() + max(0, (available.height() - outer_height) // 2) + frame.top()
    return QRect(x, y, width, height)


def screen_in_view() -> QScreen:
    """The screen a person is looking at: the active window's, else the cursor's, else the primary one."""
    active = QApplication.activeWindow()
    if active is not None and active.isVisible():
        return active.screen()
    return QGuiApplication.screenAt(QCursor.pos()) or QGuiApplication.primaryScreen()


def place_on_screen(window: QWidget, screen: QScreen | None = None) -> None:
    """Put `window` (about to be shown) whole on `screen`, or on the screen in view."""
    target = screen or screen_in_view()
    outer, inner = window.frameGeometry(), window.geometry()
    known = QMargins(
        inner.left() - outer.left(),
        inner.top() - outer.top(),
        outer.right() - inner.right(),
        outer.bottom() - inner.bottom(),
    )
    frame = known if window.isVisible() and not known.isNull() else FRAME_GUESS
    window.setScreen(target)
    window.setGeometry(fit(target.availableGeometry(), window.size(), frame))
