"""The system tray icon: its look says the overall state, its tooltip sums up, its menu holds every instance."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QIcon
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from murmuration.tray.actions import InstanceActions
from murmuration.tray.app_actions import AppActions
from murmuration.tray.icons import app_icon
from murmuration.tray.instance import OverallState
from murmuration.tray.instance_menu import InstanceMenu
from murmuration.tray.model import InstanceModel


class TrayIcon(QObject):
    """Renders the model in the tray; its entries are the instances' menus and the app-wide actions."""

    def __init__(
        self, model: InstanceModel, actions: InstanceActions, app: AppActions, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.model = model
        self.actions = actions
        self.app = app
        self._icons: dict[OverallState, QIcon] = {}
        self.state = OverallState.IDLE
        self.icon = QSystemTrayIcon(self)
        self.menu = QMenu()
        self.menu.setToolTipsVisible(True)
        self.menu.addAction(app.new_instance)
        self.menu.addSeparator()
        self.empty_action = self.menu.addAction("No instances yet")
        self.empty_action.setEnabled(False)
        self._instances_end = self.menu.addSeparator()
        self.menu.addAction(app.show_window)
        self.menu.addAction(app.start_at_login)
        self.menu.addAction(app.show_tray_log)
        self.menu.addAction(app.about)
        self.menu.addSeparator()
        self.menu.addAction(app.quit)
        self.instance_menus: dict[str, InstanceMenu] = {}
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)
        model.instance_added.connect(self._added)
        model.instance_removed.connect(self._removed)
        model.instance_changed.connect(self._changed)
        model.changed.connect(self.update_look)
        for instance in model.instances():
            self._added(instance.id)
        self.update_look()

    def show(self) -> None:
        self.icon.show()

    def hide(self) -> None:
        self.icon.hide()

    def show_message(self, title: str, message: str, warning: bool = False) -> None:
        if self.icon.isVisible() and QSystemTrayIcon.supportsMessages():
            kind = QSystemTrayIcon.MessageIcon.Warning if warning else QSystemTrayIcon.MessageIcon.Information
            self.icon.showMessage(title, message, kind, 8000)

    def menu_texts(self) -> list[str]:
        """The top-level entries as shown (separators left out)."""
        return [a.text() for a in self.menu.actions() if not a.isSeparator() and a.isVisible()]

    def update_look(self) -> None:
        """The icon for the overall state and the summary as tooltip (each set only when it changes)."""
        state = self.model.overall()
        if state not in self._icons:
            self._icons[state] = app_icon(state)
        if state is not self.state or self.icon.icon().isNull():
            self.icon.setIcon(self._icons[state])
            self.state = state
        summary = self.model.summary()
        if summary != self.icon.toolTip():
            self.icon.setToolTip(summary)

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        # A left click (Trigger) or a double click shows the window, as Windows and Linux trays do; the right
        # click opens the menu. On macOS a click opens the menu itself, as menu-bar items do, so no more.
        clicked = reason in (QSystemTrayIcon.ActivationReason.Trigger, QSystemTrayIcon.ActivationReason.DoubleClick)
        if clicked and sys.platform != "darwin":
            self.app.show_window.trigger()

    def _added(self, instance_id: str) -> None:
        if instance_id in self.instance_menus:
            return
        submenu = InstanceMenu(self.model, self.actions, instance_id, self.menu)
        self.instance_menus[instance_id] = submenu
        self.menu.insertMenu(self._instances_end, submenu)
        self.empty_action.setVisible(False)

    def _removed(self, instance_id: str) -> None:
        submenu = self.instance_menus.pop(instance_id, None)
        if submenu is not None:
            self.menu.removeAction(submenu.menuAction())
            submenu.deleteLater()
        self.empty_action.setVisible(not self.instance_menus)

    def _changed(self, instance_id: str) -> None:
        submenu = self.instance_menus.get(instance_id)
        if submenu is not None:
            submenu.refresh()

    def instance_menu_action(self, instance_id: str) -> QAction | None:
        submenu = self.instance_menus.get(instance_id)
        return submenu.menuAction() if submenu else None
