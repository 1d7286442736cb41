"""The tray app assembled: model, supervisor, icon and windows wired together, and the app-wide intents."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path
from typing import NoReturn

import shiboken6
from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QPushButton

from murmuration import __version__, registry
from murmuration.home import base_folder
from murmuration.installation import VanishingInstallation
from murmuration.tray import autostart
from murmuration.tray.actions import InstanceActions
from murmuration.tray.app_actions import AppActions
from murmuration.tray.main_window import MainWindow
from murmuration.tray.model import InstanceModel
from murmuration.tray.new_instance_dialog import NewInstanceDialog
from murmuration.tray.settings import QuitChoice, TraySettings, tray_log_file
from murmuration.tray.stop_progress import StopProgress
from murmuration.tray.supervisor import RestartPolicy, Supervisor
from murmuration.tray.tray_icon import TrayIcon
from murmuration.tray.web_engine import WarmEngine

log = logging.getLogger(__name__)

WARM_UP_AFTER_MS = 3000  # the web engine is started this long after the tray, once it is idle


class _ArgumentError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _ArgumentError(message)


def tray_parser() -> argparse.ArgumentParser:
    """The tray's own options (also those a second launch hands over)."""
    parser = _Parser(prog="murmuration tray", add_help=False)
    parser.add_argument("--open", metavar="NAME")
    return parser


class Tray(QObject):
    """The whole app; `run()` lasts until Quit."""

    def __init__(
        self,
        *,
        tray_available: bool,
        policy: RestartPolicy | None = None,
        poll_interval: float = 2.0,
        warm_up: bool = True,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.tray_available = tray_available
        self.poll_interval = poll_interval
        self.warm_up = warm_up
        self.warm: WarmEngine | None = None
        self.settings = TraySettings()
        self.model = InstanceModel(self)
        self.supervisor = Supervisor(self.model, policy, parent=self)
        self.actions = InstanceActions(self.model, self)
        self.app_actions = app = AppActions(self)
        self.window = MainWindow(self.model, self.actions, self.settings, tray_available, app)
        self.actions.dialog_parent = self.window
        self.icon = TrayIcon(self.model, self.actions, app, self) if tray_available else None
        self.dialog: NewInstanceDialog | None = None
        # Every notification shown, oldest first (the tray's bubbles vanish; tests and the log keep them).
        self.notifications: list[tuple[str, str]] = []
        self._quit: asyncio.Future[int] | None = None
        self._quitting = False
        # While "Stop and quit" waits for the instances to stop, what it shows.
        self.stop_progress: StopProgress | None = None
        self.actions.open_requested.connect(self.open_instance)
        self.actions.notify.connect(self.notify)
        self.model.notice.connect(lambda title, message: self.notify(title, message, warning=True))
        self.model.back.connect(self._back)
        self.supervisor.restarting.connect(self._restarting)
        self.supervisor.gave_up.connect(self._gave_up)
        self.window.quit_choice_chosen.connect(self.set_quit_choice)
        self.window.hidden_to_tray.connect(self._hidden_to_tray)
        # The first tab holds the web engine from then on: the warm-up's blank page can go.
        self.window.tabs.currentChanged.connect(lambda *_: self._release_warm_engine() if self.window.views else None)
        app.new_instance.triggered.connect(self.new_instance)
        app.show_window.triggered.connect(self.show_window)
        app.start_at_login.toggled.connect(self.set_start_at_login)
        app.show_tray_log.triggered.connect(self.actions.show_tray_log)
        app.about.triggered.connect(self.show_about)
        app.quit.triggered.connect(self.request_quit)

    # --- lifetime ----------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Watch the instances (adopting the running ones, starting those marked autostart) and show up."""
        self.model.watch(self.poll_interval)
        if self.warm_up:
            QTimer.singleShot(WARM_UP_AFTER_MS, self._warm_up)
        self._show_start_at_login(autostart.is_enabled())
        if self.icon is None:
            self.window.show_and_raise()
            return
        self.icon.show()
        if self.settings.once("first-run"):
            # A first start says where the app lives; with nothing to manage yet, it opens the window too,
            # whose empty list says what an instance is.
            if not registry.managed_folders():
                self.window.show_and_raise()
            self.notify("Murmuration is in the tray", "Its icon holds your instances; click it to open this window.")

    async def run(self) -> int:
        """Start, then wait for Quit; the instances keep running unless Quit stops them."""
        self._quit = asyncio.get_running_loop().create_future()
        self._handle_signals()
        self.start()
        try:
            return await self._quit
        finally:
            await self.close()

    def _handle_signals(self) -> None:
        if sys.platform == "win32":
            return
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, lambda: self.actions.run(self.quit(stop=False)))

    def _warm_up(self) -> None:
        """Start the web engine in the background once the tray is idle, unless a tab already has."""
        if self._quitting or self.window.views or self.warm is not None:
            return
        if not self.model.first_scan_done or self.model.looking or any(i.state.busy for i in self.model.instances()):
            QTimer.singleShot(WARM_UP_AFTER_MS, self._warm_up)  # still starting: later
            return
        log.info("warming up the web engine")
        self.warm = WarmEngine()

    def _release_warm_engine(self) -> None:
        if self.warm is not None:
            self.warm.release()
            self.warm = None

    async def close(self) -> None:
        """Let go of everything (the instances are separate processes and go on running)."""
        await self.supervisor.close()
        await self.model.close()
        self.window.close_all_tabs()
        self._release_warm_engine()
        self.actions.close_logs()
        if self.dialog is not None and shiboken6.isValid(self.dialog):
            self.dialog.close()
        if self.icon is not None:
            self.icon.hide()
        self.window.hide()

    async def quit(self, stop: bool) -> None:
        """Quit, stopping every running instance first when `stop`."""
        if self._quitting:
            return
        self._quitting = True
        await self.supervisor.close()
        if stop:
            live = [i.id for i in self.model.instances() if i.runtime is not None or i.state.busy]
            owner = self.window if self.window.isVisible() else None
            self.stop_progress = StopProgress(self.model, live, owner) if live else None
            if self.stop_progress is not None:
                self.stop_progress.show()
            try:
                await self.model.stop_all()
            finally:
                if self.stop_progress is not None:
                    self.stop_progress.finish()
        if self._quit is not None and not self._quit.done():
            self._quit.set_result(0)

    # --- app-wide intents --------------------------------------------------------------------------------------

    def handle_arguments(self, args: list[str], at_start: bool = False) -> None:
        """The tray was launched (again) with `args`: show the window, and open the instance named by --open."""
        try:
            options = tray_parser().parse_args(args)
        except _ArgumentError as exc:
            log.warning("ignored the arguments %r: %s", args, exc)
            options = argparse.Namespace(open=None)
        if options.open:
            self.actions.run(self._open_named(options.open))
        elif not at_start:
            self.show_window()

    async def _open_named(self, name: str) -> None:
        if not self.model.first_scan_done:
            await self.model.refresh()
        instance = self.model.find_by_name(name)
        if instance is None:
            self.show_window()
            self.notify("No such instance", f"No instance is named {name!r}.", warning=True)
            return
        self.open_instance(instance.id)

    def show_window(self) -> None:
        self.window.show_and_raise()

    def open_instance(self, instance_id: str) -> None:
        self.window.open_instance(instance_id)

    def new_instance(self) -> NewInstanceDialog:
        """Show the New instance dialog (or bring the open one forward)."""
        if self.dialog is not None and shiboken6.isValid(self.dialog):
            self.dialog.show()
            self.dialog.raise_()
            self.dialog.activateWindow()
            return self.dialog
        last = self.settings.last_project_folder
        taken = {i.name for i in self.model.instances()}
        dialog = NewInstanceDialog(self.model.next_name(), Path(last) if last else None, taken)
        dialog.submitted.connect(
            lambda name, folder: self.actions.run(self.create_instance(name, dialog, Path(folder)))
        )
        self.dialog = dialog
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()
        return dialog

    async def create_instance(
        self, name: str, dialog: NewInstanceDialog | None = None, cwd: Path | None = None
    ) -> str | None:
        """Create `name` with its processes in `cwd`, open its tab and start it; a refusal is shown in the dialog."""
        problem = ""
        instance_id = None
        try:
            instance_id = await self.model.create(name, cwd)
        except ValueError as exc:
            problem = str(exc)
        except registry.InstanceExists:
            problem = f"An instance named {name!r} already exists; choose another name."
        except OSError as exc:
            problem = f"The instance could not be created: {exc}."
        alive = dialog is not None and shiboken6.isValid(dialog)
        if instance_id is None:
            if alive and dialog is not None:
                dialog.show_error(problem)
            else:
                self.notify("No new instance", problem, warning=True)
            return None
        if cwd is not None:
            self.settings.last_project_folder = str(cwd)
        if alive and dialog is not None:
            dialog.done_creating()
        self.open_instance(instance_id)
        await self.model.start(instance_id)
        return instance_id

    def request_quit(self) -> None:
        """Quit as the person chose: stop the running instances or leave them running (asked once)."""
        running = [i for i in self.model.instances() if i.runtime is not None]
        choice = self.settings.quit_choice
        if choice is QuitChoice.ASK:
            if not running:
                choice = QuitChoice.LEAVE  # nothing to decide: do not spend the one question
            else:
                answer = self.ask_quit_choice(len(running))
                if answer is None:
                    return
                choice = answer
                self.set_quit_choice(choice)
        self.actions.run(self.quit(stop=choice is QuitChoice.STOP))

    def ask_quit_choice(self, running: int) -> QuitChoice | None:
        """Ask once what Quit does with running instances; None when the person cancels."""
        box = QMessageBox(self.window if self.window.isVisible() else None)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Quit Murmuration")
        some = "1 instance is" if running == 1 else f"{running} instances are"
        box.setText(f"{some} running. Stop them, or leave them running without the tray?")
        box.setInformativeText(
            "Murmuration remembers your answer; change it in the main window under Murmuration ▸ When quitting."
        )
        stop: QPushButton = box.addButton("Stop and quit", QMessageBox.ButtonRole.DestructiveRole)
        leave: QPushButton = box.addButton("Leave running and quit", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(leave)
        box.exec()
        clicked = box.clickedButton()
        if clicked is stop:
            return QuitChoice.STOP
        if clicked is leave:
            return QuitChoice.LEAVE
        return None

    def _hidden_to_tray(self) -> None:
        if self.settings.once("closed-to-tray"):
            self.notify(
                "Murmuration keeps running",
                "The window is closed, not the app: your instances go on in the tray; Quit is in its menu.",
            )

    def set_quit_choice(self, choice: QuitChoice) -> None:
        self.settings.quit_choice = choice
        self.window.show_quit_choice(choice)

    def set_start_at_login(self, enabled: bool) -> None:
        self.actions.run(self._set_start_at_login(enabled))

    async def _set_start_at_login(self, enabled: bool) -> None:
        try:
            await asyncio.to_thread(autostart.set_enabled, enabled)
        except VanishingInstallation as exc:  # its message is the whole sentence: where to move the app first
            self.notify("Start at login unchanged", str(exc), warning=True)
        except OSError as exc:
            self.notify("Start at login unchanged", f"The login item could not be changed: {exc}.", warning=True)
        self._show_start_at_login(await asyncio.to_thread(autostart.is_enabled))

    def _show_start_at_login(self, enabled: bool) -> None:
        self.app_actions.show_start_at_login(enabled)

    def show_about(self) -> None:
        """The version, and where the data and the tray's log are."""
        QMessageBox.about(
            self.window if self.window.isVisible() else None,
            "About Murmuration",
            f"Murmuration {__version__}\n\nA local hub for AI coding agents.\n\n"
            f"Instances live in {base_folder()}; the tray's log is {tray_log_file()}.",
        )

    # --- telling the person ------------------------------------------------------------------------------------

    def notify(self, title: str, message: str, warning: bool = False) -> None:
        log.log(logging.WARNING if warning else logging.INFO, "%s: %s", title, message)
        self.notifications.append((title, message))
        self.window.notify(title, message)
        if self.icon is not None:
            self.icon.show_message(title, message, warning)
        elif warning:
            # No tray to show a bubble: the window is the app, so it asks for attention (taskbar, dock).
            QApplication.alert(self.window)

    def _restarting(self, instance_id: str, delay: float) -> None:
        if self.supervisor.crash_count(instance_id) == 1:  # the first crash is news; the rest are in the log
            instance = self.model.get(instance_id)
            name = instance.label if instance else instance_id
            self.notify(f"{name} crashed", f"{name} stopped unexpectedly; restarting it in {delay:.0f} s.", True)

    def _back(self, _instance_id: str, title: str, sentence: str) -> None:
        # Said in the status bar too, where it replaces the "crashed" of a moment ago.
        self.notify(title, sentence)

    def _gave_up(self, instance_id: str, message: str) -> None:
        instance = self.model.get(instance_id)
        name = instance.label if instance else instance_id
        self.notify(f"{name} keeps crashing", message, warning=True)
