"""The tray icon and its menu: the look follows the state, and each entry does what it says."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import QPoint, QUrl
from PySide6.QtGui import QGuiApplication

from murmuration import registry
from murmuration.client import InstanceClient
from murmuration.tray import autostart
from murmuration.tray.controller import Tray
from murmuration.tray.instance import InstanceState, OverallState
from murmuration.tray.instance_menu import InstanceMenu
from murmuration.tray.settings import QuitChoice
from murmuration.tray.tray_icon import TrayIcon
from tests.tray.waits import until

from .conftest import SCREENSHOTS


def append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(text)


def tray_icon(tray: Tray) -> TrayIcon:
    """The tray icon as `murmuration` makes it where a system tray exists (offscreen has none: made by hand)."""
    icon = TrayIcon(tray.model, tray.actions, tray.app_actions, tray)
    tray.icon = icon
    return icon


async def started(tray: Tray, home: Path, name: str) -> str:
    instance_id = registry.create(name, home).read_info().id
    if not tray.model.first_scan_done:
        tray.start()
    await until(lambda: tray.model.get(instance_id), tray.model.instance_added)
    assert await tray.model.start(instance_id)
    return instance_id


async def serve_http(instance_id: str, title: str) -> dict[str, Any]:
    """Start a real HTTP server as a process of the instance and return it once it listens (its `urls` known)."""
    async with await InstanceClient.for_folder(registry.find(instance_id)) as client:
        served = await client.call(
            "start_process",
            {
                "command": f"{sys.executable} -m http.server 0 --bind 127.0.0.1",
                "title": title,
                "immediate": True,
                "wait_for": {"port": True, "timeout": 30},
            },
        )
    assert served["wait"]["ready"] is True, served
    return dict(served)


async def test_the_menu_lists_every_instance_between_new_and_quit(tray: Tray, home: Path) -> None:
    icon = tray_icon(tray)
    app_wide = ["Show all instances…", "Start at login", "Show tray log", "About Murmuration", "Quit"]
    assert icon.menu_texts() == ["New instance…", "No instances yet", *app_wide]
    instance_id = await started(tray, home, "Menu Item")
    registry.create("Resting", home)
    await until(lambda: len(icon.instance_menus) == 2, tray.model.instance_added)

    assert icon.menu_texts() == [
        "New instance…",
        "Menu Item — Running",
        "Resting — Stopped",
        *app_wide,
    ]
    submenu = icon.instance_menus[instance_id]
    instance = tray.model.get(instance_id)
    assert instance is not None
    assert submenu.action_texts() == [
        f"Running on port {instance.port}",
        instance.url,
        "Open",
        "Open in browser",
        "Copy URL",
        "Copy MCP config",
        "Start",
        "Stop",
        "Restart",
        "Start with Murmuration",
        "Show log",
        "Open data folder",
        "Change project folder…",
        "Delete…",
    ]
    assert not submenu.action("start").isEnabled()
    assert submenu.action("stop").isEnabled()
    assert submenu.action("restart").isEnabled()
    resting = icon.instance_menus["resting"]
    assert resting.action("start").isEnabled()
    assert not resting.action("stop").isEnabled()
    assert resting.url_action.text() == "No URL while it is not running"


async def test_the_icon_and_tooltip_say_the_overall_state(tray: Tray, home: Path) -> None:
    icon = tray_icon(tray)
    assert icon.state is OverallState.IDLE
    assert icon.icon.toolTip() == "Murmuration — no instances yet"
    instance_id = await started(tray, home, "Watched")
    assert icon.state is OverallState.OK
    assert icon.icon.toolTip().startswith("Murmuration — 1 running")
    instance = tray.model.get(instance_id)
    assert instance is not None
    assert instance.pid is not None

    busy: list[OverallState] = []
    tray.model.changed.connect(lambda: busy.append(icon.state))
    os.kill(instance.pid, signal.SIGKILL)

    await until(lambda: OverallState.TROUBLE in busy, tray.model.changed, what="the crashed look")
    await until(lambda: instance.running and icon.state is OverallState.OK, tray.model.changed, what="all well")
    assert OverallState.BUSY in busy  # starting again on the way back
    assert not icon.icon.icon().isNull()


async def test_copy_url_and_open_in_browser_with_a_one_time_code(
    tray: Tray, home: Path, desktop_handlers: list[str]
) -> None:
    icon = tray_icon(tray)
    instance_id = await started(tray, home, "Shared")
    instance = tray.model.get(instance_id)
    assert instance is not None
    assert instance.url
    assert instance.runtime
    submenu = icon.instance_menus[instance_id]

    submenu.action("copy_url").trigger()
    assert QGuiApplication.clipboard().text() == instance.url

    submenu.action("open_in_browser").trigger()
    await until(lambda: desktop_handlers, what="the browser")
    link = QUrl(desktop_handlers[0])
    assert link.toString().startswith(f"{instance.url}login?code=")
    assert instance.runtime.token not in link.toString()


async def test_copy_mcp_config_offers_each_client_and_says_where_it_goes(tray: Tray, home: Path) -> None:
    icon = tray_icon(tray)
    instance_id = await started(tray, home, "Wired")
    submenu = icon.instance_menus[instance_id]
    clients = [a.text() for a in submenu.submenus["Copy MCP config"].actions()]
    assert clients == ["For Claude Code", "For Claude Desktop", "For VS Code"]

    submenu.action("copy_mcp_config:claude-desktop").trigger()
    server = json.loads(QGuiApplication.clipboard().text())["mcpServers"][f"murmuration-{instance_id}"]
    assert server["args"][-3:] == ["mcp", "--instance", instance_id]
    # The tray runs with MURMURATION_HOME (as every test does): the bridge must be told it too.
    assert server["env"] == {"MURMURATION_HOME": os.environ["MURMURATION_HOME"]}
    title, sentence = tray.notifications[-1]
    assert title == "MCP config for Claude Desktop copied"
    assert "claude_desktop_config.json" in sentence

    submenu.action("copy_mcp_config:vscode").trigger()
    assert f"murmuration-{instance_id}" in json.loads(QGuiApplication.clipboard().text())["servers"]
    assert ".vscode/mcp.json" in tray.notifications[-1][1]

    submenu.action("copy_mcp_config:claude-code").trigger()
    line = QGuiApplication.clipboard().text()
    assert line.startswith(f"claude mcp add murmuration-{instance_id} --env MURMURATION_HOME=")
    assert "Run this line in your project folder." in tray.notifications[-1][1]


async def test_stop_start_and_restart_from_the_menu(tray: Tray, home: Path) -> None:
    icon = tray_icon(tray)
    instance_id = await started(tray, home, "Switched")
    instance = tray.model.get(instance_id)
    assert instance is not None
    submenu = icon.instance_menus[instance_id]
    first_pid = instance.pid

    submenu.action("restart").trigger()
    await until(lambda: instance.running and instance.pid != first_pid, tray.model.instance_changed)

    submenu.action("stop").trigger()
    await until(lambda: instance.state is InstanceState.STOPPED, tray.model.instance_changed)
    assert submenu.title() == "Switched — Stopped"

    submenu.action("start").trigger()
    await until(lambda: instance.running, tray.model.instance_changed)


async def test_delete_asks_first_and_removes_the_instance(tray: Tray, home: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    icon = tray_icon(tray)
    instance_id = await started(tray, home, "Gone Soon")
    folder = registry.find(instance_id)
    answers = [False, True]
    asked: list[tuple[str, bool]] = []

    def confirm(name: str, running: bool) -> bool:
        asked.append((name, running))
        return answers.pop(0)

    monkeypatch.setattr(tray.actions, "confirm_delete", confirm)

    icon.instance_menus[instance_id].action("delete").trigger()  # answered No
    assert tray.model.get(instance_id) is not None

    icon.instance_menus[instance_id].action("delete").trigger()  # answered Yes
    await until(lambda: tray.model.get(instance_id) is None, tray.model.instance_removed)
    assert asked == [("Gone Soon", True), ("Gone Soon", True)]
    assert not folder.path.exists()
    assert instance_id not in icon.instance_menus


async def test_the_tray_log_is_one_click_away(tray: Tray) -> None:
    tray_icon(tray)
    tray.start()
    help_menu = next(a.menu() for a in tray.window.menuBar().actions() if a.text() == "&Help")
    assert tray.app_actions.show_tray_log in help_menu.actions()

    tray.app_actions.show_tray_log.trigger()

    viewer = tray.actions._logs[""]
    assert viewer.isVisible()
    assert viewer.windowTitle() == "Murmuration — tray log"
    assert viewer.path == home_tray_log()


def home_tray_log() -> Path:
    return Path(os.environ["MURMURATION_HOME"]) / "logs" / "tray.log"


async def test_show_log_and_open_data_folder(tray: Tray, home: Path, desktop_handlers: list[str]) -> None:
    icon = tray_icon(tray)
    instance_id = await started(tray, home, "Logged")
    folder = registry.find(instance_id)
    submenu = icon.instance_menus[instance_id]

    submenu.action("open_data_folder").trigger()
    await until(lambda: desktop_handlers, what="the file manager")
    assert desktop_handlers == [QUrl.fromLocalFile(str(folder.path)).toString()]

    viewer = tray.actions.show_log(instance_id)
    assert viewer is not None
    assert viewer.isVisible()
    await until(lambda: "serving Logged" in viewer.text.toPlainText(), what="the log's tail")
    line = "2026-01-01 00:00:00,000 INFO test: a line written just now\n"
    await asyncio.to_thread(append, folder.server_log, line)
    await until(lambda: "a line written just now" in viewer.text.toPlainText(), what="the followed line")
    viewer.close()


async def test_start_at_login_writes_and_removes_the_autostart_entry(tray: Tray) -> None:
    icon = tray_icon(tray)
    tray.start()
    # One QAction in both menus: its check mark cannot differ between them.
    window_menu = tray.window.menuBar().actions()[0].menu()
    assert tray.app_actions.start_at_login in icon.menu.actions()
    assert tray.app_actions.start_at_login in window_menu.actions()
    assert "Start with Murmuration" in tray.app_actions.start_at_login.toolTip()  # the two explained together
    assert not tray.app_actions.start_at_login.isChecked()
    assert not autostart.is_enabled()

    tray.app_actions.start_at_login.trigger()
    await until(lambda: autostart.is_enabled() and tray.app_actions.start_at_login.isChecked(), what="the entry")
    entry = autostart.desktop_file().read_text()
    assert "Exec=" in entry
    assert " tray" in entry
    assert f"MURMURATION_HOME={os.environ['MURMURATION_HOME']}" in entry

    tray.app_actions.start_at_login.trigger()
    await until(lambda: not autostart.is_enabled() and not tray.app_actions.start_at_login.isChecked(), what="no entry")


async def test_quit_asks_once_then_remembers(tray: Tray, home: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    tray_icon(tray)
    instance_id = await started(tray, home, "Kept")
    asked: list[int] = []

    def ask(running: int) -> QuitChoice:
        asked.append(running)
        return QuitChoice.LEAVE

    monkeypatch.setattr(tray, "ask_quit_choice", ask)
    tray._quit = asyncio.get_running_loop().create_future()

    tray.app_actions.quit.trigger()
    assert await tray._quit == 0
    assert asked == [1]
    assert tray.settings.quit_choice is QuitChoice.LEAVE
    assert tray.window.quit_choice_actions[QuitChoice.LEAVE].isChecked()
    instance = tray.model.get(instance_id)
    assert instance is not None
    assert instance.running


async def test_quit_with_the_stop_choice_stops_every_instance(tray: Tray, home: Path) -> None:
    tray_icon(tray)
    first = await started(tray, home, "First")
    second = await started(tray, home, "Second")
    tray.window.quit_choice_actions[QuitChoice.STOP].trigger()
    assert tray.settings.quit_choice is QuitChoice.STOP
    tray._quit = asyncio.get_running_loop().create_future()

    tray.request_quit()  # no question: the choice is remembered

    assert await tray._quit == 0
    for instance_id in (first, second):
        assert registry.find(instance_id).read_runtime() is None


async def test_stop_and_quit_shows_its_progress_while_the_instances_stop(tray: Tray, home: Path) -> None:
    tray_icon(tray)
    first = await started(tray, home, "Slow One")
    second = await started(tray, home, "Slow Two")
    tray.settings.quit_choice = QuitChoice.STOP
    tray._quit = asyncio.get_running_loop().create_future()
    seen: list[tuple[int, int, str]] = []

    tray.request_quit()

    progress = await until(lambda: tray.stop_progress, what="the progress")
    assert progress.isVisible()  # at once: no wait before it shows
    tray.model.instance_changed.connect(
        lambda *_: seen.append((progress.value(), progress.maximum(), progress.labelText()))
    )
    assert progress.maximum() == 2
    assert progress.labelText() == "Stopping 2 instances; waiting for Slow One, Slow Two."
    assert await tray._quit == 0
    assert not shiboken6.isValid(progress)  # closed and gone
    assert seen[-1] == (2, 2, "Stopped 2 instances; quitting.")
    assert any(value == 1 and "waiting for" in label for value, _, label in seen)  # one down, one awaited
    for instance_id in (first, second):
        assert registry.find(instance_id).read_runtime() is None


async def test_the_row_menu_is_the_same_menu(tray: Tray, home: Path) -> None:
    instance_id = await started(tray, home, "Row")
    menu = InstanceMenu(tray.model, tray.actions, instance_id)
    assert menu.title() == "Row — Running"
    assert "Copy MCP config" in menu.action_texts()


def test_the_delete_confirmation_says_delete_and_defaults_to_cancel() -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    from murmuration.tray.actions import InstanceActions
    from murmuration.tray.model import InstanceModel

    from .conftest import application

    application()
    actions = InstanceActions(InstanceModel())
    seen: list[tuple[list[str], str]] = []

    def answer(button: str) -> None:
        box = next(w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible())
        seen.append((sorted(b.text() for b in box.buttons()), box.defaultButton().text()))
        next(b for b in box.buttons() if b.text() == button).click()

    QTimer.singleShot(0, lambda: answer("Delete"))
    assert actions.confirm_delete("Doomed", running=False) is True
    QTimer.singleShot(0, lambda: answer("Cancel"))
    assert actions.confirm_delete("Doomed", running=True) is False
    assert seen == [(["Cancel", "Delete"], "Cancel")] * 2


async def test_a_running_instances_menu_lists_its_processes_addresses_and_opens_them(
    tray: Tray, home: Path, desktop_handlers: list[str]
) -> None:
    icon = tray_icon(tray)
    instance_id = await started(tray, home, "Serving")
    submenu = icon.instance_menus[instance_id]
    served = await serve_http(instance_id, "Docs & preview")
    async with await InstanceClient.for_folder(registry.find(instance_id)) as client:
        quiet = await client.call("start_process", {"command": ["sleep", "60"], "immediate": True})
    url = served["urls"][0]
    assert quiet["urls"] == []  # a process that listens nowhere has no entry

    submenu.popup(QPoint(10, 10))  # opening the menu is what asks for the addresses
    await until(lambda: submenu.process_url_actions, what="the process's address in the menu")
    texts = submenu.action_texts()
    assert texts[2] == f"{url} — Docs && preview"  # under the instance's own address; "&" is no mnemonic
    assert len(submenu.process_url_actions) == 1
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert submenu.grab().save(str(SCREENSHOTS / "instance_menu_with_process_urls.png"))

    submenu.process_url_actions[0].trigger()
    await until(lambda: url in desktop_handlers, what="the browser asked for the process's address")
    submenu.hide()

    assert await tray.model.stop(instance_id)
    assert submenu.process_url_actions == []  # a stopped instance's processes are gone, and so are their entries
