"""One instance's menu (in the tray menu and on a row of the main window): its state, its addresses and the
entries of the action table."""

from __future__ import annotations

import asyncio
import logging

import shiboken6
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QWidget

from murmuration.client import InstanceUnavailable, RpcError
from murmuration.tray.action_table import BoundAction, Place, entries
from murmuration.tray.actions import InstanceActions
from murmuration.tray.icons import state_dot
from murmuration.tray.instance import Instance, InstanceState, shown
from murmuration.tray.model import InstanceModel

log = logging.getLogger(__name__)

# A process's title is the agent's words: kept to a length a menu can show.
TITLE_CHARS = 48


def state_line(instance: Instance) -> str:
    """The state as one line: "Running on port 8080", or what went wrong."""
    if instance.running and instance.port is not None:
        return f"Running on port {instance.port}"
    if instance.message and instance.state is not InstanceState.RUNNING:
        return instance.status_sentence()
    return instance.state.label


def process_url_text(title: str, url: str) -> str:
    """A menu entry for a process's address: the address, then whose it is (no "&" read as a mnemonic)."""
    name = shown(title)
    if len(name) > TITLE_CHARS:
        name = name[: TITLE_CHARS - 1] + "…"
    return f"{url} — {name}".replace("&", "&&")


class InstanceMenu(QMenu):
    """The table's entries for one instance, enabled as its state allows; `refresh()` follows the model.

    While it runs, the addresses its processes listen on are asked for each time the menu opens (never in the
    background: a closed menu costs nothing) and each opens in the browser.
    """

    def __init__(self, model: InstanceModel, actions: InstanceActions, instance_id: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = model
        self.intents = actions
        self.instance_id = instance_id
        self.state_action = self._info()
        self.url_action = self._info()
        self.process_url_actions: list[QAction] = []
        self._info_end = self.addSeparator()
        self.bound: dict[str, BoundAction] = {}
        submenus: dict[str, QMenu] = {}
        for entry in entries(Place.MENU):
            if entry is None:
                self.addSeparator()
                continue
            action = BoundAction(entry, actions, lambda: instance_id, self)
            if entry.submenu:
                if entry.submenu not in submenus:
                    submenus[entry.submenu] = self.addMenu(entry.submenu)
                submenus[entry.submenu].addAction(action)
            else:
                self.addAction(action)
            self.bound[entry.name] = action
        self.submenus = submenus
        self._loading: asyncio.Task[None] | None = None
        self.aboutToShow.connect(self.load_process_urls)
        self.refresh()

    def _info(self) -> QAction:
        action = self.addAction("")
        action.setEnabled(False)
        return action

    def action(self, name: str) -> BoundAction:
        """The entry called `name` in the action table, as this menu shows it."""
        return self.bound[name]

    def action_texts(self) -> list[str]:
        """The menu's entries as shown (separators left out), for people reading tests."""
        return [a.text() for a in self.actions() if not a.isSeparator()]

    def refresh(self) -> None:
        instance = self.model.get(self.instance_id)
        if instance is None:
            return
        self.setTitle(f"{instance.label} — {instance.state.label}")
        self.setIcon(state_dot(instance.state))
        self.state_action.setText(state_line(instance))
        self.url_action.setText(instance.url or "No URL while it is not running")
        for action in self.bound.values():
            action.render(instance)
        if not instance.running:
            self.show_process_urls([])

    # --- the processes' addresses ------------------------------------------------------------------------------

    def load_process_urls(self) -> asyncio.Task[None] | None:
        """Ask the instance where its processes listen, and list the answer (the last one stays meanwhile)."""
        instance = self.model.get(self.instance_id)
        if instance is None or not instance.running:
            self.show_process_urls([])
            return None
        if self._loading is None or self._loading.done():
            self._loading = asyncio.ensure_future(self._load())
        return self._loading

    async def _load(self) -> None:
        try:
            urls = await self.model.process_urls(self.instance_id)
        except (InstanceUnavailable, RpcError, OSError, KeyError, TypeError) as exc:
            # The menu still works without them; the state line says what is wrong with the instance.
            log.info("no process addresses from %s: %s", self.instance_id, exc)
            return
        if shiboken6.isValid(self):  # a row's menu may be gone by the time the answer comes
            self.show_process_urls(urls)

    def show_process_urls(self, urls: list[tuple[str, str]]) -> None:
        """List (title, url) pairs between the instance's own address and its actions."""
        for action in self.process_url_actions:
            self.removeAction(action)
            action.deleteLater()
        self.process_url_actions = []
        for title, url in urls:
            action = QAction(process_url_text(title, url), self)
            action.setToolTip(f"Open {url} in the browser")
            action.triggered.connect(lambda _=False, u=url: self.intents.open_process_url(self.instance_id, u))
            self.insertAction(self._info_end, action)
            self.process_url_actions.append(action)
