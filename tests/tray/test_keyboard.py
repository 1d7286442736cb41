"""The main window by keyboard, with real key events through the window: where the keys are is visible, Enter
opens the current row, Ctrl+W closes a tab, Ctrl+Tab and Ctrl+Shift+Tab switch tabs from any focus (a
focused dashboard included)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage, QPalette
from PySide6.QtTest import QTest
from PySide6.QtWebEngineCore import QWebEnginePage
from PySide6.QtWidgets import QApplication, QWidget

from murmuration import registry
from murmuration.tray.controller import Tray
from murmuration.tray.instance_table import COLUMNS
from murmuration.tray.main_window import MainWindow
from tests.tray.test_instance_view import open_dashboard
from tests.tray.waits import POLL, run_js, until

from .conftest import SCREENSHOTS

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


async def window_with(tray: Tray, home: Path, *names: str) -> MainWindow:
    for name in names:
        registry.create(name, home)
    tray.start()  # without a system tray the window shows at once
    await until(lambda: len(tray.model.instances()) == len(names), tray.model.instance_added)
    window = tray.window
    window.show_and_raise()
    await until(lambda: QApplication.activeWindow() is window, what="the window active")
    return window


def press(window: MainWindow, key: Qt.Key, modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    """A key pressed on the keyboard, as Qt delivers one: offered to the window's shortcuts first, then to the
    widget with the focus (inside a web view, the page's own widget).

    Sent to that widget rather than to the QWindow: QTest's window path spins a nested event loop, which
    qasync's loop does not survive.
    """
    focused = QApplication.focusWidget()
    assert focused is not None, "nothing has the keys"
    assert focused.window() is window, f"the keys are not in the window: {focused}"
    QTest.keyClick(focused, key, modifiers)


def focus_inside(widget: QWidget) -> bool:
    focused = QApplication.focusWidget()
    return focused is not None and (focused is widget or widget.isAncestorOf(focused))


async def page_focused(page: QWebEnginePage, timeout: float = 10.0) -> bool:
    """Whether the page itself has the keyboard (asked of the page, until it says so or the time is up)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await run_js(page, "document.hasFocus()"):
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(POLL)
    return True


def frame_colours(image: QImage) -> set[int]:
    """The colours along the list's left edge, where its frame is."""
    return {image.pixel(0, y) & 0xFFFFFF for y in range(image.height() // 4, image.height() * 3 // 4)}


async def test_the_list_shows_where_the_keys_are(tray: Tray, home: Path) -> None:
    window = await window_with(tray, home, "Marked", "Unmarked")
    table = window.table
    window.resize(1000, 420)
    highlight = window.palette().color(QPalette.ColorGroup.Active, QPalette.ColorRole.Highlight).rgb() & 0xFFFFFF

    table.setFocus(Qt.FocusReason.TabFocusReason)
    assert table.hasFocus()
    assert table.selected_id() == "marked"  # the keys need a row to act on: the first one, when none was chosen
    focused = table.grab().toImage()
    window.new_button.setFocus()
    assert not table.hasFocus()
    assert table.selected_id() == "marked"  # the same row, still chosen
    unfocused = table.grab().toImage()
    assert frame_colours(focused) == {highlight}  # a frame in the highlight colour, as a focused field has
    assert highlight not in frame_colours(unfocused)
    # A point of the first row where no text is: the right end of the stretched "Project folder" cell.
    cell = table.visualRect(window.table_model.index(0, COLUMNS.index("Project folder")))
    row = QPoint(cell.right() - 4, cell.center().y()) + table.viewport().pos()
    assert focused.pixel(row) & 0xFFFFFF == highlight  # and the chosen row is marked strongly with the keys...
    assert unfocused.pixel(row) & 0xFFFFFF != highlight  # ...and faded without them
    table.setFocus()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert window.grab().save(str(SCREENSHOTS / "main_window_focused_list.png"))


async def test_enter_opens_the_current_row_however_it_was_chosen(tray: Tray, home: Path) -> None:
    window = await window_with(tray, home, "First Row", "Second Row", "Third Row")
    table = window.table
    table.setFocus()

    press(window, Qt.Key.Key_Return)  # nothing chosen yet: the first row is the current one
    assert window.tabs.currentWidget() is window.views["first-row"]

    press(window, Qt.Key.Key_Tab, CTRL)  # back to the list, with the keys on it
    assert window.tabs.currentIndex() == 0
    assert table.hasFocus()
    second = table.visualRect(window.table_model.index(1, 2))
    QTest.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, second.center())
    press(window, Qt.Key.Key_Return)  # a row clicked on another column
    assert window.tabs.currentWidget() is window.views["second-row"]

    press(window, Qt.Key.Key_Tab, CTRL)
    press(window, Qt.Key.Key_Down)
    press(window, Qt.Key.Key_Enter, Qt.KeyboardModifier.KeypadModifier)  # the keypad's Enter, on a row reached by keys
    assert window.tabs.currentWidget() is window.views["third-row"]
    assert list(window.views) == ["first-row", "second-row", "third-row"]


async def test_ctrl_w_closes_the_tab_and_another_shortcut_the_window(tray: Tray, home: Path) -> None:
    window = await window_with(tray, home, "Closed By Key")
    window.open_instance("closed-by-key")
    assert window.windowTitle() == "Closed By Key — Murmuration"  # the title follows the tab in front

    press(window, Qt.Key.Key_W, CTRL)

    assert window.views == {}
    assert window.tabs.count() == 1
    assert window.windowTitle() == "Murmuration"
    assert window.isVisible()
    press(window, Qt.Key.Key_W, CTRL)  # the list's tab is never closed
    assert window.tabs.count() == 1
    assert window.isVisible()
    assert window.close_window_action.shortcut().toString() == "Ctrl+Shift+W"
    assert window.close_tab_action.shortcut().toString() == "Ctrl+W"


async def test_ctrl_tab_switches_tabs_from_the_list_and_round_the_end(tray: Tray, home: Path) -> None:
    window = await window_with(tray, home, "Tab One", "Tab Two")
    window.open_instance("tab-one")
    window.open_instance("tab-two")
    window.tabs.setCurrentIndex(0)
    window.table.setFocus()
    order = []
    for _ in range(3):
        press(window, Qt.Key.Key_Tab, CTRL)
        order.append(window.tabs.currentIndex())
    press(window, Qt.Key.Key_Backtab, CTRL | SHIFT)  # what a keyboard sends for Ctrl+Shift+Tab
    order.append(window.tabs.currentIndex())
    press(window, Qt.Key.Key_PageUp, CTRL)
    order.append(window.tabs.currentIndex())
    assert order == [1, 2, 0, 2, 1]
    assert window.windowTitle() == "Tab One — Murmuration"


async def test_ctrl_tab_works_while_the_dashboard_has_the_keys(tray: Tray, home: Path) -> None:
    instance, view = await open_dashboard(tray, home, "Focused Page")
    window = tray.window
    window.show_and_raise()
    await until(lambda: QApplication.activeWindow() is window, what="the window active")
    view.web.setFocus()
    await until(lambda: focus_inside(view.web), what="the web view focused")
    assert await page_focused(view.page), "the page never had the keys"
    index = window.tabs.indexOf(view)
    assert window.tabs.currentIndex() == index

    # Without the window's shortcut, the key goes into the page and the tab widget never hears of it.
    window.next_tab_action.setEnabled(False)
    press(window, Qt.Key.Key_Tab, CTRL)
    assert window.tabs.currentIndex() == index
    window.next_tab_action.setEnabled(True)

    press(window, Qt.Key.Key_Tab, CTRL)
    assert window.tabs.currentIndex() == 0
    assert window.table.hasFocus()
    press(window, Qt.Key.Key_Backtab, CTRL | SHIFT)
    assert window.tabs.currentIndex() == index
    await until(lambda: focus_inside(view.web), what="the keys back on the page")
    press(window, Qt.Key.Key_W, CTRL)  # and Ctrl+W from inside the page closes its tab
    assert window.views == {}
    assert instance.running  # closing a tab never stops the instance
