"""One instance's tab: its dashboard in a QWebEngineView, or a native page while it is down or its page crashed.

Importing this module loads QtWebEngine, so the main window imports it only when the first tab opens.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import shiboken6
from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtWebEngineCore import QWebEnginePage
from PySide6.QtWebEngineWidgets import QWebEngineView
from PySide6.QtWidgets import QHBoxLayout, QLabel, QStackedWidget, QToolButton, QVBoxLayout, QWidget

from murmuration.client import InstanceUnavailable, RpcError
from murmuration.tray import desktop
from murmuration.tray.action_table import BoundAction, Place, entries
from murmuration.tray.actions import InstanceActions
from murmuration.tray.model import InstanceModel
from murmuration.tray.reload_page import ReloadPage
from murmuration.tray.stopped_page import StoppedPage
from murmuration.tray.web_page import GuardedPage, private_profile

log = logging.getLogger(__name__)


class InstanceView(QWidget):
    """The dashboard of one instance, signed in with a one-time code; it follows the instance's state by itself."""

    # The dashboard finished loading after a sign-in.
    signed_in = Signal()
    # Which page the tab shows now: "loading", "dashboard", "stopped" or "reload".
    page_shown = Signal(str)

    def __init__(
        self, model: InstanceModel, instance_id: str, actions: InstanceActions, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.model = model
        self.instance_id = instance_id
        self.intents = actions
        # Owned here, not by a parent: the page must go before its profile (see dispose).
        self.profile = private_profile()
        self.page = GuardedPage(self.profile)
        self.web = QWebEngineView(self)
        self.web.setPage(self.page)
        self.stopped = StoppedPage(actions, instance_id, self)
        self.reload = ReloadPage(self)
        self.reload.reload_requested.connect(self.sign_in)
        # Shown from the moment the tab opens until the dashboard has loaded: never a blank tab.
        self.loading = QLabel(self)
        self.loading.setObjectName("loading")
        self.loading.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.loading.setTextFormat(Qt.TextFormat.PlainText)
        self.stack = QStackedWidget(self)
        for widget in (self.web, self.stopped, self.reload, self.loading):
            self.stack.addWidget(widget)
        self.address = QLabel(self)
        self.address.setObjectName("address")
        # What is news about the running instance (it runs again after a crash, what the crash cut short).
        self.news = QLabel(self)
        self.news.setObjectName("news")
        self.news.setWordWrap(True)
        self.news.setTextFormat(Qt.TextFormat.PlainText)  # titles come from agents: never markup
        self.news.setContentsMargins(8, 0, 8, 4)
        self.news.hide()
        self.reload_button = reload_button = QToolButton(self)
        reload_button.setText("Reload")
        reload_button.clicked.connect(self.sign_in)
        bar = QHBoxLayout()
        bar.setContentsMargins(8, 4, 8, 4)
        bar.addWidget(self.address, 1)
        bar.addWidget(reload_button)
        # The action table's tab entries (Open in browser, Show log), as tool buttons.
        self.tab_actions: dict[str, BoundAction] = {}
        self.tab_buttons: dict[str, QToolButton] = {}
        for entry in entries(Place.TAB):
            assert entry is not None  # only the menu has separators
            action = BoundAction(entry, actions, lambda: instance_id, self)
            button = QToolButton(self)
            button.setDefaultAction(action)
            self.tab_actions[entry.name] = action
            self.tab_buttons[entry.name] = button
            bar.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(bar)
        layout.addWidget(self.news)
        layout.addWidget(self.stack, 1)
        self.shown = ""
        self._session: tuple[int | None, int | None] | None = None
        self._signing: asyncio.Task[None] | None = None
        self._awaiting_dashboard = False
        self.page.loadFinished.connect(self._loaded)
        self.page.urlChanged.connect(self._show_address)
        self.page.renderProcessTerminated.connect(self._renderer_ended)
        model.instance_changed.connect(self._instance_changed)
        self._sync()

    # --- what the tab shows ------------------------------------------------------------------------------------

    def _show(self, which: str) -> None:
        pages = {"dashboard": self.web, "stopped": self.stopped, "reload": self.reload, "loading": self.loading}
        page = pages[which]
        self.stack.setCurrentWidget(page)
        self.setFocusProxy(page)  # the tab brought to the front by a key gives the keys to what it shows
        if which != self.shown:
            self.shown = which
            self.page_shown.emit(which)

    def _show_address(self, url: QUrl) -> None:
        # The query is never shown: a sign-in code lives there until the page trades it for a session.
        self.address.setText(desktop.shown_address(url))

    def _instance_changed(self, instance_id: str) -> None:
        if instance_id == self.instance_id:
            self._sync()

    def _sync(self) -> None:
        instance = self.model.get(self.instance_id)
        running = instance is not None and instance.running
        # Reload needs a server; the address is greyed while there is none.
        self.reload_button.setEnabled(running)
        self.address.setEnabled(running)
        for action in self.tab_actions.values():
            action.render(instance)
        if instance is None:
            self._cancel_sign_in()
            self.reload.say("This instance was deleted.")
            self.reload.reload_button.setEnabled(False)
            self._show("reload")
            return
        self.news.setText(instance.message if instance.running else "")
        self.news.setVisible(instance.running and bool(instance.message))
        if instance.running:
            session = (instance.pid, instance.port)
            if session != self._session:
                self._session = session
                self.sign_in()
            return
        self._session = None
        self._cancel_sign_in()
        self.stopped.show_instance(instance)
        self._show("stopped")

    # --- signing in --------------------------------------------------------------------------------------------

    def sign_in(self) -> None:
        """Load the dashboard through a fresh one-time sign-in code (so no secret lands in the history)."""
        instance = self.model.get(self.instance_id)
        if instance is None or not instance.running:
            self._sync()
            return
        if self.shown != "dashboard":
            self.loading.setText(f"Loading the dashboard of {instance.label}…")
            self._show("loading")
        self._cancel_sign_in()
        self._signing = asyncio.ensure_future(self._sign_in())

    def _cancel_sign_in(self) -> None:
        if self._signing is not None and not self._signing.done():
            self._signing.cancel()
        self._signing = None

    async def _sign_in(self) -> None:
        instance = self.model.get(self.instance_id)
        name = instance.label if instance else self.instance_id
        try:
            link = QUrl(await self.model.login_url(self.instance_id))
        except (InstanceUnavailable, RpcError, OSError) as exc:
            self.reload.say(f"Could not sign in to {name}: {exc}")
            self.reload.reload_button.setEnabled(True)
            self._show("reload")
            return
        self.page.allow_origin(link)
        self._awaiting_dashboard = True
        self.page.load(link)

    def _loaded(self, ok: bool) -> None:
        if not self._awaiting_dashboard:
            return
        self._awaiting_dashboard = False
        url = self.page.url()
        if ok and self.page.allows(url) and url.path() in ("", "/") and not url.hasQuery():
            # The page has traded the code for a session and left /login: forget it, so Back never returns there.
            self.page.history().clear()
            self._show("dashboard")
            self.signed_in.emit()
            return
        instance = self.model.get(self.instance_id)
        name = instance.label if instance else self.instance_id
        self.reload.say(f"The dashboard of {name} did not load; reload to try again.")
        self.reload.reload_button.setEnabled(True)
        self._show("reload")

    def _renderer_ended(self, status: QWebEnginePage.RenderProcessTerminationStatus, exit_code: int) -> None:
        if status == QWebEnginePage.RenderProcessTerminationStatus.NormalTerminationStatus:
            return
        log.warning("the dashboard renderer of %s ended (%s, code %d)", self.instance_id, status.name, exit_code)
        instance = self.model.get(self.instance_id)
        name = instance.label if instance else self.instance_id
        self._awaiting_dashboard = False
        self.reload.say(f"The page of {name} stopped working; reload it to carry on.")
        self.reload.reload_button.setEnabled(True)
        self._show("reload")

    # --- for tests and the main window -------------------------------------------------------------------------

    def history_urls(self) -> list[str]:
        return [item.url().toString() for item in self.page.history().items()]

    def dispose(self) -> None:
        """Tear down in the order QtWebEngine needs: the page before its profile, then the widget."""
        with contextlib.suppress(RuntimeError, TypeError):
            self.model.instance_changed.disconnect(self._instance_changed)
        self._cancel_sign_in()
        page, profile = self.page, self.profile
        with contextlib.suppress(RuntimeError, TypeError):
            page.loadFinished.disconnect(self._loaded)
            page.urlChanged.disconnect(self._show_address)
            page.renderProcessTerminated.disconnect(self._renderer_ended)
        if shiboken6.isValid(page):
            shiboken6.delete(page)
        if shiboken6.isValid(profile):
            shiboken6.delete(profile)
        self.deleteLater()
