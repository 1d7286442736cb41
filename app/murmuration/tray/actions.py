"""What a person can do to one instance, from the tray menu or the main window: the intents, in one place."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QUrl, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from murmuration.client import InstanceUnavailable, RpcError
from murmuration.datafolder import DataFolderError
from murmuration.lock import FolderLocked
from murmuration.tray import desktop
from murmuration.tray.log_viewer import LogViewer
from murmuration.tray.mcp_config import CLIENT_LABELS, mcp_config
from murmuration.tray.model import InstanceModel
from murmuration.tray.settings import tray_log_file

log = logging.getLogger(__name__)

TRAY_LOG = ""  # the key of the tray log's viewer among the instances' (no instance id is empty)


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
        return instance.label if instance else instance_id

    def open(self, instance_id: str) -> None:
        self.open_requested.emit(instance_id)

    def start(self, instance_id: str) -> None:
        self.run(self.model.start(instance_id))

    def stop(self, instance_id: str) -> None:
        self.run(self.model.stop(instance_id))

    def restart(self, instance_id: str) -> None:
        self.run(self.model.restart(instance_id))

    def toggle_autostart(self, instance_id: str) -> None:
        """Flip "Start with Murmuration" for the instance."""
        instance = self.model.get(instance_id)
        if instance is not None:
            self.run(self.model.set_autostart(instance_id, not instance.autostart))

    def open_in_browser(self, instance_id: str) -> None:
        self.run(self._open_in_browser(instance_id))

    async def _open_in_browser(self, instance_id: str) -> None:
        try:
            link = await self.model.login_url(instance_id)
        except (InstanceUnavailable, RpcError, OSError) as exc:
            self.notify.emit(f"Cannot open {self._name(instance_id)}", f"No sign-in link: {exc}")
            return
        # A one-time code: the browser signs in once and the link is dead afterwards.
        problem = await desktop.launch(QUrl(link))
        if problem is not None:
            name = self._name(instance_id)
            QGuiApplication.clipboard().setText(link)
            self.notify.emit(
                f"Cannot open {name} in a browser",
                f"No browser could be opened ({problem}); its sign-in link is on the clipboard instead: "
                "paste it into a browser within two minutes.",
            )

    def open_process_url(self, instance_id: str, url: str) -> None:
        """Open an address one of the instance's processes listens on, in the system browser."""
        self.run(self._open_process_url(instance_id, url))

    async def _open_process_url(self, instance_id: str, url: str) -> None:
        problem = await desktop.launch(QUrl(url))
        if problem is not None:
            QGuiApplication.clipboard().setText(url)
            self.notify.emit(
                f"Cannot open {url}",
                f"No browser could be opened ({problem}); the address of this process of "
                f"{self._name(instance_id)} is on the clipboard instead.",
            )

    def copy_url(self, instance_id: str) -> None:
        instance = self.model.get(instance_id)
        if instance is None or instance.url is None:
            self.notify.emit("Nothing copied", f"{self._name(instance_id)} is not running, so it has no URL.")
            return
        QGuiApplication.clipboard().setText(instance.url)
        self.notify.emit("URL copied", f"{instance.url} is on the clipboard.")

    def copy_mcp_config(self, instance_id: str, client: str) -> None:
        """Put what wires `client` (an MCP client) to the instance on the clipboard, and say where it goes."""
        text, where = mcp_config(client, instance_id)
        QGuiApplication.clipboard().setText(text)
        label = CLIENT_LABELS.get(client, client)
        self.notify.emit(f"MCP config for {label} copied", f"For {self._name(instance_id)}: {where}")

    def show_log(self, instance_id: str) -> LogViewer | None:
        instance = self.model.get(instance_id)
        if instance is None:
            return None
        viewer = self._logs.get(instance_id)
        if viewer is None:
            viewer = LogViewer(f"{instance.label} — server log", instance.folder.server_log)
            viewer.destroyed.connect(lambda *_: self._logs.pop(instance_id, None))
            self._logs[instance_id] = viewer
        viewer.show()
        viewer.raise_()
        viewer.activateWindow()
        return viewer

    def show_tray_log(self) -> LogViewer:
        """The tray's own log: what it did, and what went wrong outside any one instance."""
        viewer = self._logs.get(TRAY_LOG)
        if viewer is None:
            viewer = LogViewer("Murmuration — tray log", tray_log_file())
            viewer.destroyed.connect(lambda *_: self._logs.pop(TRAY_LOG, None))
            self._logs[TRAY_LOG] = viewer
        viewer.show()
        viewer.raise_()
        viewer.activateWindow()
        return viewer

    def open_data_folder(self, instance_id: str) -> None:
        self.run(self._open_data_folder(instance_id))

    async def _open_data_folder(self, instance_id: str) -> None:
        instance = self.model.get(instance_id)
        if instance is None:
            return
        path = str(instance.folder.path)
        problem = await desktop.launch(QUrl.fromLocalFile(path))
        if problem is not None:
            QGuiApplication.clipboard().setText(path)
            self.notify.emit(
                f"Cannot show the data folder of {instance.name}",
                f"No file manager could be opened ({problem}); its path is on the clipboard instead: {path}",
            )

    def change_project_folder(self, instance_id: str) -> None:
        """Ask for the folder the instance's processes run in, with the desktop's folder picker."""
        instance = self.model.get(instance_id)
        if instance is None:
            return
        chosen = QFileDialog.getExistingDirectory(
            self.dialog_parent, f"Project folder of {instance.name}", instance.cwd or str(Path.home())
        )
        if chosen:
            self.run(self._set_project_folder(instance_id, Path(chosen)))

    async def _set_project_folder(self, instance_id: str, folder: Path) -> None:
        name = self._name(instance_id)
        try:
            written = await self.model.set_cwd(instance_id, folder)
        except (ValueError, OSError, DataFolderError) as exc:
            self.notify.emit("Project folder unchanged", str(exc))
            return
        instance = self.model.get(instance_id)
        later = "; restart it to use it now" if instance is not None and instance.runtime is not None else ""
        sentence = f"The processes of {name} run in {written} from its next start{later}."
        self.notify.emit("Project folder changed", sentence)

    def confirm_delete(self, name: str, running: bool) -> bool:
        """Ask before deleting: the data (issues, knowledge, logs) cannot be brought back."""
        what = f"Delete {name}?"
        detail = "Its issues, knowledge, queue and logs are deleted for good."
        if running:
            detail = "It is running and will be stopped first. " + detail
        box = QMessageBox(QMessageBox.Icon.Warning, what, f"{what}\n\n{detail}", parent=self.dialog_parent)
        # The button says what it does: a "Yes" is too easily pressed on a question not read.
        delete = box.addButton("Delete", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return box.clickedButton() is delete

    def delete(self, instance_id: str) -> None:
        instance = self.model.get(instance_id)
        if instance is None or not self.confirm_delete(instance.label, instance.runtime is not None):
            return
        self.run(self._delete(instance_id, instance.label))

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
