"""Getting the web engine ready before the first tab needs it: no flicker, no wait.

A QWebEngineView draws through Qt's RHI. The first such child put into a window switches that window's
surface from raster to the RHI's, which on X11 (and other native platforms) destroys and re-creates the native
window: the main window vanished and came back when the first dashboard tab opened. `prepare_surface` gives the
window a hidden RHI child before it is first shown, so it is created with the right surface once and for all.
`warm_up` loads QtWebEngine and starts its engine with a blank page once the tray is idle after its start, so
opening the first tab later costs what every other tab costs.
"""

from __future__ import annotations

import logging

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

log = logging.getLogger(__name__)

# Platforms without native windows: nothing to re-create, and no RHI to ask for.
_HEADLESS = ("offscreen", "minimal")


def prepare_surface(window: QWidget) -> QWidget | None:
    """Give `window` (not yet shown) the surface its web views will need; the hidden child, or None."""
    if QGuiApplication.platformName() in _HEADLESS:
        return None
    from PySide6.QtWidgets import QRhiWidget  # its default API is Qt Quick's, which QWebEngineView uses

    keeper = QRhiWidget(window)
    keeper.setObjectName("webSurface")
    keeper.setFixedSize(1, 1)
    keeper.hide()
    return keeper


class WarmEngine:
    """A blank page in its own profile that keeps the web engine started until the first tab exists."""

    def __init__(self) -> None:
        from PySide6.QtCore import QUrl
        from PySide6.QtWebEngineCore import QWebEnginePage

        from murmuration.tray import instance_view  # noqa: F401  (loads QtWebEngineWidgets and the tab's code)
        from murmuration.tray.web_page import private_profile

        self.profile = private_profile()
        self.page = QWebEnginePage(self.profile)
        self.page.load(QUrl("about:blank"))

    def release(self) -> None:
        """The first tab holds the engine now: the blank page and its profile go (the page first)."""
        import shiboken6

        for thing in (self.page, self.profile):
            if shiboken6.isValid(thing):
                shiboken6.delete(thing)
