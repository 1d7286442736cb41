"""The main window: the list of instances with their facts, and rows that open tabs."""

from __future__ import annotations

import asyncio
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from murmuration import registry
from murmuration.tray.controller import Tray
from murmuration.tray.instance import InstanceState
from murmuration.tray.instance_table import (
    COLUMNS,
    InstanceTableModel,
    format_folder,
    format_memory,
    format_uptime,
)
from tests.tray.waits import until

from .conftest import SCREENSHOTS


def row(table: InstanceTableModel, instance_id: str) -> dict[str, str]:
    r = table.row_of(instance_id)
    return {column: table.data(table.index(r, c)) for c, column in enumerate(COLUMNS)}


def test_a_project_folder_under_home_reads_with_a_tilde() -> None:
    assert format_folder(str(Path.home())) == "~"
    assert format_folder(str(Path.home() / "code" / "app")) == "~/code/app"
    assert format_folder("/srv/app") == "/srv/app"
    assert format_folder(str(Path.home()) + "x") == str(Path.home()) + "x"  # a sibling, not inside home
    assert format_folder("") == ""


def test_uptime_and_memory_read_like_a_person_would_say_them() -> None:
    assert format_uptime(None) == ""
    assert format_uptime(42.7) == "42 s"
    assert format_uptime(12 * 60 + 5) == "12 min"
    assert format_uptime(3 * 3600 + 5 * 60) == "3 h 05 min"
    assert format_uptime(2 * 86400 + 4 * 3600) == "2 d 4 h"
    assert format_memory(None) == ""
    assert format_memory(5 * 1024 * 1024 + 300_000) == "5.3 MB"
    assert format_memory(123 * 1024 * 1024) == "123 MB"


async def test_the_window_lists_instances_with_state_port_url_uptime_and_memory(tray: Tray, home: Path) -> None:
    registry.create("Running One", home)
    registry.create("Idle One", home)
    tray.start()  # without a system tray the window is the app: it shows at once
    assert tray.window.isVisible()
    model = tray.model
    await until(lambda: len(model.instances()) == 2, model.instance_added)
    assert await model.start("running-one")
    running = model.get("running-one")
    assert running is not None
    assert running.runtime is not None
    table = tray.window.table_model
    await until(lambda: row(table, "running-one")["Memory"], model.instance_changed, what="memory shown")

    shown = row(table, "running-one")
    assert shown["Name"] == "Running One"
    assert shown["State"] == "Running"
    assert shown["Port"] == str(running.port)
    assert shown["URL"] == running.url
    assert shown["Uptime"].endswith(" s") or shown["Uptime"].endswith(" min")
    assert shown["Memory"].endswith(" MB")
    idle = row(table, "idle-one")
    assert idle == {
        "Name": "Idle One",
        "State": "Stopped",
        "Project folder": str(home),
        "Port": "",
        "URL": "",
        "Uptime": "",
        "Memory": "",
    }
    assert not tray.window.empty_label.isVisible()

    tray.window.resize(1000, 420)
    tray.window.table.select_id("running-one")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert tray.window.grab().save(str(SCREENSHOTS / "main_window_instances.png"))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert tray.window.grab().save(str(SCREENSHOTS / "main_window_two_instances.png"))


async def test_enter_on_a_row_opens_its_tab_and_a_double_click_focuses_it(tray: Tray, home: Path) -> None:
    registry.create("Row Opened", home)
    registry.create("Other", home)
    tray.start()
    model = tray.model
    await until(lambda: len(model.instances()) == 2, model.instance_added)
    window = tray.window
    table = window.table

    table.select_id("row-opened")
    table.setFocus()
    QTest.keyClick(table, Qt.Key.Key_Return)

    assert list(window.views) == ["row-opened"]
    view = window.views["row-opened"]
    assert window.tabs.currentWidget() is view
    assert window.tabs.tabText(window.tabs.currentIndex()) == "Row Opened"
    await until(lambda: view.shown == "stopped", view.page_shown)  # it is not running: the native page

    window.tabs.setCurrentIndex(0)
    index = window.table_model.index(window.table_model.row_of("row-opened"), 0)
    table.doubleClicked.emit(index)

    assert list(window.views) == ["row-opened"]  # focused, not opened twice
    assert window.tabs.currentWidget() is view


async def test_closing_a_tab_lets_its_page_go(tray: Tray, home: Path) -> None:
    registry.create("Closable", home)
    tray.start()
    await until(lambda: tray.model.get("closable"), tray.model.instance_added)
    view = tray.window.open_instance("closable")
    assert view is not None
    assert tray.window.tabs.count() == 2

    tray.window.close_tab(tray.window.tabs.indexOf(view))

    assert tray.window.views == {}
    assert tray.window.tabs.count() == 1


async def test_the_buttons_follow_the_selected_instance(tray: Tray, home: Path) -> None:
    registry.create("Buttons", home)
    tray.start()
    model = tray.model
    await until(lambda: model.get("buttons"), model.instance_added)
    window = tray.window
    assert not window.row_button("start").isEnabled()  # nothing selected

    window.table.select_id("buttons")
    assert window.row_button("start").isEnabled()
    assert not window.row_button("stop").isEnabled()

    window.row_button("start").click()
    instance = model.get("buttons")
    assert instance is not None
    await until(lambda: instance.state is InstanceState.RUNNING, model.instance_changed)
    assert window.row_button("stop").isEnabled()
    assert window.row_button("restart").isEnabled()
    assert not window.row_button("start").isEnabled()

    window.row_button("stop").click()
    await until(lambda: instance.state is InstanceState.STOPPED, model.instance_changed)
    assert window.row_button("start").isEnabled()


async def test_an_empty_machine_says_how_to_begin(tray: Tray) -> None:
    tray.start()
    await until(lambda: tray.model.first_scan_done, tray.model.changed)
    assert tray.window.empty_label.isVisible()
    assert "New instance" in tray.window.empty_label.text()


async def test_without_a_tray_closing_the_window_quits_the_app(tray: Tray) -> None:
    tray.start()
    tray._quit = asyncio.get_running_loop().create_future()

    tray.window.close()

    assert await asyncio.wait_for(tray._quit, 10) == 0  # nothing runs: quit without a question


async def test_with_a_tray_closing_the_window_keeps_its_tabs_and_says_so_once(home: Path) -> None:
    registry.create("Stays", home)
    app = Tray(tray_available=True, poll_interval=0.2)
    try:
        app.start()
        await until(lambda: app.model.get("stays"), app.model.instance_added)
        assert not app.window.isVisible()  # with a tray and an instance, the app starts in the tray
        app.show_window()
        view = app.window.open_instance("stays")
        assert view is not None

        app.window.close()

        assert not app.window.isVisible()
        told = [n for n in app.notifications if n[0] == "Murmuration keeps running"]
        assert len(told) == 1
        app.show_window()
        assert app.window.views == {"stays": view}  # the tab is still there, the same one
        assert app.window.tabs.currentWidget() is view
        app.window.close()
        assert len([n for n in app.notifications if n[0] == "Murmuration keeps running"]) == 1  # said once
    finally:
        await app.close()


async def test_a_first_run_opens_the_window_and_says_the_app_lives_in_the_tray(home: Path) -> None:
    first = Tray(tray_available=True, poll_interval=0.2)
    try:
        first.start()
        assert first.window.isVisible()  # nothing to manage yet: the window, with its empty list
        assert first.window.empty_label.isVisibleTo(first.window)
        assert "An instance is the hub of one project" in first.window.empty_label.text()
        assert first.notifications == [
            ("Murmuration is in the tray", "Its icon holds your instances; click it to open this window.")
        ]
        first.window.resize(1000, 420)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        assert first.window.grab().save(str(SCREENSHOTS / "first_run.png"))
    finally:
        await first.close()
    again = Tray(tray_available=True, poll_interval=0.2)
    try:
        again.start()
        assert not again.window.isVisible()  # the second start stays in the tray, silently
        assert again.notifications == []
    finally:
        await again.close()
