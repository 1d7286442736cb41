"""One instance's menu (in the tray menu and on a row of the main window): its state, its URL and its actions."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QWidget

from murmuration.tray.actions import InstanceActions
from murmuration.tray.icons import state_dot
from murmuration.tray.instance import Instance, InstanceState
from murmuration.tray.mcp_config import CLIENT_LABELS
from murmuration.tray.model import InstanceModel


def state_line(instance: Instance) -> str:
    """The state as one line: "Running on port 8080", or what went wrong."""
    if instance.running and instance.port is not None:
        return f"Running on port {instance.port}"
    if instance.message and instance.state is not InstanceState.RUNNING:
        return instance.status_sentence()
    return instance.state.label


class InstanceMenu(QMenu):
    """The actions on one instance, enabled as its state allows; `refresh()` follows the model."""

    def __init__(self, model: InstanceModel, actions: InstanceActions, instance_id: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = model
        self.instance_id = instance_id
        self.state_action = self._info()
        self.url_action = self._info()
        self.addSeparator()
        self.open_action = self._add("Open", lambda: actions.open(instance_id))
        self.browser_action = self._add("Open in browser", lambda: actions.open_in_browser(instance_id))
        self.copy_url_action = self._add("Copy URL", lambda: actions.copy_url(instance_id))
        self.mcp_menu = self.addMenu("Copy MCP config")
        self.mcp_actions = {}
        for client, label in CLIENT_LABELS.items():
            action = self.mcp_menu.addAction(f"For {label}")
            action.triggered.connect(lambda _=False, c=client: actions.copy_mcp_config(instance_id, c))
            self.mcp_actions[client] = action
        self.addSeparator()
        self.start_action = self._add("Start", lambda: actions.start(instance_id))
        self.stop_action = self._add("Stop", lambda: actions.stop(instance_id))
        self.restart_action = self._add("Restart", lambda: actions.restart(instance_id))
        self.autostart_action = self._add("Start with Murmuration", lambda: None)
        self.autostart_action.setCheckable(True)
        self.autostart_action.toggled.connect(self._autostart_toggled)
        self.addSeparator()
        self.log_action = self._add("Show log", lambda: actions.show_log(instance_id))
        self.folder_action = self._add("Open data folder", lambda: actions.open_data_folder(instance_id))
        self.cwd_action = self._add("Change project folder…", lambda: actions.change_project_folder(instance_id))
        self.addSeparator()
        self.delete_action = self._add("Delete…", lambda: actions.delete(instance_id))
        self._actions = actions
        self.refresh()

    def _info(self) -> QAction:
        action = self.addAction("")
        action.setEnabled(False)
        return action

    def _add(self, text: str, slot: Callable[[], object]) -> QAction:
        action = self.addAction(text)
        action.triggered.connect(slot)
        return action

    def _autostart_toggled(self, checked: bool) -> None:
        instance = self.model.get(self.instance_id)
        if instance is not None and instance.autostart != checked:
            self._actions.set_autostart(self.instance_id, checked)

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
        self.browser_action.setEnabled(instance.running)
        self.copy_url_action.setEnabled(instance.url is not None)
        self.start_action.setEnabled(instance.can_start)
        self.stop_action.setEnabled(instance.can_stop)
        self.restart_action.setEnabled(instance.can_restart)
        self.autostart_action.blockSignals(True)
        self.autostart_action.setChecked(instance.autostart)
        self.autostart_action.blockSignals(False)
