"""The app-wide entries (not about one instance): each is one QAction that both the tray menu and the window's
menu show, so its text, shortcut, check mark and enabled state can never differ between them."""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence

START_AT_LOGIN_TIP = (
    "Start Murmuration's tray when you log in. The instances marked “Start with Murmuration” "
    "(in each instance's menu) then start with it."
)


class AppActions(QObject):
    """New instance, Show all instances, Start at login, Show tray log, About and Quit; the tray wires them."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.new_instance = self._add("New instance…", QKeySequence.StandardKey.New)
        self.show_window = self._add("Show all instances…")
        self.start_at_login = self._add("Start at login", tip=START_AT_LOGIN_TIP)
        self.start_at_login.setCheckable(True)
        self.show_tray_log = self._add("Show tray log")
        self.about = self._add("About Murmuration")
        self.quit = self._add("Quit", QKeySequence.StandardKey.Quit)

    def _add(self, text: str, shortcut: QKeySequence.StandardKey | None = None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setToolTip(tip)
            action.setStatusTip(tip)
        return action

    def show_start_at_login(self, enabled: bool) -> None:
        """Show the login item's state without asking to change it."""
        self.start_at_login.blockSignals(True)
        self.start_at_login.setChecked(enabled)
        self.start_at_login.blockSignals(False)
