"""The web page of one dashboard tab: its own storage, its own origin only, other links to the system browser."""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QUrl, Signal
from PySide6.QtWebEngineCore import QWebEnginePage, QWebEngineProfile

from murmuration.tray import desktop

log = logging.getLogger(__name__)

EXTERNAL_SCHEMES = ("http", "https", "mailto")


def origin(url: QUrl) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL, the port filled in from the scheme."""
    scheme = url.scheme().lower()
    default = 443 if scheme == "https" else 80
    return scheme, url.host().lower(), url.port(default)


def private_profile(parent: QObject | None = None) -> QWebEngineProfile:
    """An off-the-record profile for one instance: its storage (the dashboard's session) lives in memory, here alone."""
    profile = QWebEngineProfile(parent)  # no storage name: off the record
    profile.setHttpCacheType(QWebEngineProfile.HttpCacheType.MemoryHttpCache)
    profile.setPersistentCookiesPolicy(QWebEngineProfile.PersistentCookiesPolicy.NoPersistentCookies)
    return profile


class GuardedPage(QWebEnginePage):
    """Navigates only within its instance's origin; a clicked link elsewhere opens in the system browser."""

    navigation_refused = Signal(QUrl)

    def __init__(self, profile: QWebEngineProfile, parent: QObject | None = None) -> None:
        super().__init__(profile, parent)
        self._origin: tuple[str, str, int] | None = None
        self._popups: list[QWebEnginePage] = []

    def allow_origin(self, url: QUrl) -> None:
        """The one origin this page may show (the instance's, which changes only if its port does)."""
        self._origin = origin(url)

    def allows(self, url: QUrl) -> bool:
        return self._origin is not None and origin(url) == self._origin

    def acceptNavigationRequest(self, url: QUrl | str, navigation: QWebEnginePage.NavigationType, main: bool) -> bool:
        url = QUrl(url)
        if self.allows(url):
            return True
        log.info("refused a navigation to %s", desktop.shown_address(url))
        self.navigation_refused.emit(url)
        clicked = navigation == QWebEnginePage.NavigationType.NavigationTypeLinkClicked
        if clicked and main and url.scheme().lower() in EXTERNAL_SCHEMES:
            desktop.open_url(url)
        return False

    def createWindow(self, kind: QWebEnginePage.WebWindowType) -> QWebEnginePage:
        """A link with target=_blank (or window.open): its address goes to the system browser, not a new tab."""
        popup = _ExternalOpener(self.profile(), self)
        self._popups.append(popup)
        popup.done.connect(lambda: self._popups.remove(popup) if popup in self._popups else None)
        return popup

    def javaScriptConsoleMessage(
        self, level: QWebEnginePage.JavaScriptConsoleMessageLevel, message: str, line: int, source: str
    ) -> None:
        # To the tray's log rather than Qt's (where a page's console error would read as a Qt warning).
        log.info("console %s:%d: %s", source.split("?", 1)[0], line, message)


class _ExternalOpener(QWebEnginePage):
    """A page that never loads: the first address it is sent to opens in the system browser."""

    done = Signal()

    def acceptNavigationRequest(self, url: QUrl | str, navigation: QWebEnginePage.NavigationType, main: bool) -> bool:
        url = QUrl(url)
        if url.scheme().lower() in EXTERNAL_SCHEMES:
            desktop.open_url(url)
        self.done.emit()
        self.deleteLater()
        return False
