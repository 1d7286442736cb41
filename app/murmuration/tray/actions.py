"""What a person can do to one instance, from the tray menu or the main window: the intents, in one place."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from PySide6.QtCore import QObject, QUrl, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMessageBox, QWidget

from murmuration.client import InstanceUnavailable, RpcError
from murmuration.lock import FolderLocked
from murmuration.tray import desktop
from murmuration.tray.log_viewer import LogViewer
from murmuration.tray.mcp_config import mcp_config
from murmuration.tray.model import InstanceModel

log = logging.getLogger(__name__)


class InstanceActions(QObject):
    """Turns a person's intent about one instance into model calls, clipboard text or a desktop handler."""

    # The instance's dashboard should open in the main window (id).
    open_requested = Signal(str)
    # Something to tell the person (title, sentence).
    notify = Signal(str, str)

    def __init__(self, model: InstanceModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self._tasks: set[asyncio.Task[Any]] = set()
        self._logs: dict[str, LogViewer] = {}
        # The window that owns confirmation dialogs (the main window, once there is one).
        self.dialog_parent: QWidget | None = None

    def run(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run `coro` on the event loop; a failure is logged, never lost."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("an action failed", exc_info=task.exception())

    def _name(self, instance_id: str) -> str:
        instance = self.model.get(instance_id)
        return instance.name if instance else instance_id

    def open(self, instance_id: str) -> None:
        self.open_requested.emit(instance_id)

    def start(self, instance_id: str) -> None:
        self.run(self.model.start(instance_id))

    def stop(self, instance_id: str) -> None:
        self.run(self.model.stop(instance_id))

    def restart(self, instance_id: str) -> None:
        self.run(self.model.restart(instance_id))

    def set_autostart(self, instance_id: str, autostart: bool) -> None:
        self.run(self.model.set_autostart(instance_id, autostart))

    def open_in_browser(self, instance_id: str) -> None:
        self.run(self._open_in_browser(instance_id))

    async def _open_in_browser(self, instance_id: str) -> None:
        try:
            link = await self.model.login_url(instance_id)
        except (InstanceUnavailable, RpcError, OSError) as exc:
            self.notify.emit(f"Cannot open {self._name(instance_id)}", f"No sign-in link: {exc}")
            return
        # A one-time code: the browser signs in once and the link is dead afterwards.
        desktop.open_url(QUrl(link))

    def copy_url(self, instance_id: str) -> None:
        instance = self.model.get(instance_id)
        if instance is None or instance.url is None:
            self.notify.emit("Nothing copied", f"{self._name(instance_id)} is not running, so it has no URL.")
            return
        QGuiApplication.clipboard().setText(instance.url)
        self.notify.emit("URL copied", f"{instance.url} is on the clipboard.")

    def copy_mcp_config(self, instance_id: str) -> None:
        self.run(self._copy_mcp_config(instance_id))

    async def _copy_mcp_config(self, instance_id: str) -> None:
        text = await asyncio.to_thread(mcp_config, instance_id)
        QGuiApplication.clipboard().setText(text)
        self.notify.emit(
            "MCP config copied", f"The MCP config for {self._name(instance_id)} is on the clipboard; paste it."
        )

    def show_log(self, instance_id: str) -> LogViewer | None:
        instance = self.model.get(instance_id)
        if instance is None:
            return None
        viewer = self._logs.get(instance_id)
        if viewer is None:
            viewer = LogViewer(instance.name, instance.folder.server_log)
            viewer.destroyed.connect(lambda *_: self._logs.pop(instance_id, None))
            self._logs[instance_id] = viewer
        viewer.show()
        viewer.raise_()
        viewer.activateWindow()
        return viewer

    def open_data_folder(self, instance_id: str) -> None:
        instance = self.model.get(instance_id)
        if instance is not None:
            desktop.open_folder(instance.folder.path)

    def confirm_delete(self, name: str, running: bool) -> bool:
        """Ask before deleting: the data (issues, knowledge, logs) cannot be brought back."""
        what = f"Delete {name}?"
        detail = "Its issues, knowledge, queue and logs are deleted for good."
        if running:
            detail = "It is running and will be stopped first. " + detail
        answer = QMessageBox.warning(
            self.dialog_parent,
            what,
            f"{what}\n\n{detail}",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Yes

    def delete(self, instance_id: str) -> None:
        instance = self.model.get(instance_id)
        if instance is None or not self.confirm_delete(instance.name, instance.runtime is not None):
            return
        self.run(self._delete(instance_id, instance.name))

    async def _delete(self, instance_id: str, name: str) -> None:
        try:
            await self.model.delete(instance_id)
        except FolderLocked:
            self.notify.emit(f"{name} was not deleted", f"{name} is running again; stop it first, then try again.")
        except OSError as exc:
            self.notify.emit(f"{name} was not deleted", f"Its data folder could not be removed: {exc}.")
        else:
            self.notify.emit(f"{name} deleted", f"{name} and its data folder are gone.")

    def close_logs(self) -> None:
        for viewer in list(self._logs.values()):
            viewer.close()
