"""The log window: whole on the screen in view, search with every match highlighted, copy of a part or all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PySide6.QtCore import QMargins, QRect, QSize, Qt
from PySide6.QtGui import QGuiApplication, QTextCursor
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from murmuration.tray.log_viewer import LogViewer
from murmuration.tray.placement import fit
from tests.tray.conftest import application
from tests.tray.waits import until

LINES = [
    "12:00:01 INFO server started on port 8087",
    "12:00:02 ERROR could not open the database",
    "12:00:03 INFO retrying",
    "12:00:04 error: disk full",
    "12:00:05 INFO request served",
    "12:00:06 Error again, the third",
]


@pytest.fixture
def qapp() -> QApplication:
    """pytest-qt's application is the tray tests' headless one, whichever fixture asks first."""
    return application()


@pytest.fixture
async def viewer(tmp_path: Path) -> AsyncIterator[LogViewer]:
    application()
    log = tmp_path / "server.log"
    log.write_text("\n".join(LINES) + "\n")
    window = LogViewer("Test — server log", log)
    window.show()
    await until(lambda: "the third" in window.text.toPlainText(), what="the log's tail")
    try:
        yield window
    finally:
        window.close()


def inside(outer: QRect, inner: QRect) -> bool:
    return outer.contains(inner.topLeft()) and outer.contains(inner.bottomRight())


async def test_the_window_opens_whole_on_a_screen_smaller_than_it_asks_for(viewer: LogViewer) -> None:
    available = viewer.screen().availableGeometry()
    assert available.width() < 900  # the offscreen screen: narrower than the window's own size
    assert inside(available, viewer.frameGeometry()), (available, viewer.frameGeometry())


def test_a_window_keeps_its_size_where_it_fits_and_shrinks_where_not() -> None:
    frame = QMargins(8, 32, 8, 8)
    screen = QRect(1920, 0, 1280, 1024)  # a second monitor, right of the first
    placed = fit(screen, QSize(900, 560), frame)
    assert placed.size() == QSize(900, 560)
    assert inside(screen, placed.marginsAdded(frame))
    small = QRect(0, 24, 640, 456)  # free area below a panel
    placed = fit(small, QSize(900, 560), frame)
    assert placed.marginsAdded(frame) == small


async def test_search_highlights_every_match_and_steps_round_them(viewer: LogViewer, qtbot: QtBot) -> None:
    finder = viewer.finder
    qtbot.keyClicks(finder.field, "error")
    assert len(viewer.text.extraSelections()) == 3  # every match painted, whatever its case
    assert viewer.text.textCursor().selectedText() == "ERROR"
    assert finder.status.text() == "1 of 3"

    qtbot.mouseClick(finder.next, Qt.MouseButton.LeftButton)
    assert viewer.text.textCursor().selectedText() == "error"
    assert finder.status.text() == "2 of 3"
    finder.find_next()
    assert finder.status.text() == "3 of 3"
    finder.find_next()  # past the last: round to the first
    assert finder.status.text() == "1 of 3"
    qtbot.mouseClick(finder.previous, Qt.MouseButton.LeftButton)  # before the first: round to the last
    assert viewer.text.textCursor().selectedText() == "Error"
    assert finder.status.text() == "3 of 3"

    # A line written while searching is found too, and the search keeps its place.
    log = viewer.path
    with log.open("a") as f:
        f.write("12:00:07 ERROR the fourth\n")
    await until(lambda: finder.status.text() == "3 of 4", what="the new line among the matches")
    assert viewer.text.textCursor().selectedText() == "Error"

    finder.field.clear()
    assert viewer.text.extraSelections() == []
    assert finder.status.text() == ""
    qtbot.keyClicks(finder.field, "no such words")
    assert finder.status.text() == "Not found"
    assert not finder.next.isEnabled()
    assert not finder.find_next()


async def test_the_keyboard_finds_from_anywhere_in_the_window(viewer: LogViewer, qtbot: QtBot) -> None:
    viewer.activateWindow()
    viewer.text.setFocus()
    await until(lambda: QApplication.focusWidget() is viewer.text, what="the text to have the focus")
    qtbot.keyClick(viewer.text, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.focusWidget() is viewer.finder.field
    qtbot.keyClicks(viewer.finder.field, "info")
    assert viewer.finder.status.text() == "1 of 3"
    qtbot.keyClick(viewer.finder.field, Qt.Key.Key_Return)
    assert viewer.finder.status.text() == "2 of 3"
    qtbot.keyClick(viewer.finder.field, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    assert viewer.finder.status.text() == "1 of 3"
    qtbot.keyClick(viewer.text, Qt.Key.Key_F3)
    assert viewer.finder.status.text() == "2 of 3"
    qtbot.keyClick(viewer.finder.field, Qt.Key.Key_Escape)
    assert viewer.finder.field.text() == ""


async def test_copy_takes_the_selection_and_copy_all_takes_every_line(viewer: LogViewer, qtbot: QtBot) -> None:
    clipboard = QGuiApplication.clipboard()
    assert not viewer.copy.isEnabled()  # nothing selected yet
    cursor = viewer.text.document().find("could not open the database")
    viewer.text.setTextCursor(cursor)
    await until(viewer.copy.isEnabled, what="Copy to be offered for the selection")
    qtbot.mouseClick(viewer.copy, Qt.MouseButton.LeftButton)
    assert clipboard.text() == "could not open the database"

    copy_all = next(b for b in viewer.findChildren(type(viewer.copy)) if b.text() == "Copy all")
    qtbot.mouseClick(copy_all, Qt.MouseButton.LeftButton)
    assert clipboard.text().splitlines() == LINES

    cursor = viewer.text.textCursor()
    cursor.movePosition(QTextCursor.MoveOperation.End)
    viewer.text.setTextCursor(cursor)  # the selection gone: nothing to copy
    await until(lambda: not viewer.copy.isEnabled(), what="Copy to be withdrawn")


# Two screens side by side, the right one small; where the log window opens, as a JSON line.
TWO_SCREENS = textwrap.dedent(
    """
    import asyncio, json, sys
    from pathlib import Path
    import qasync
    from PySide6.QtGui import QCursor
    from PySide6.QtWidgets import QApplication, QWidget
    from murmuration.tray.log_viewer import LogViewer

    async def main():
        cursor_at, main_window_at = json.loads(sys.argv[1])
        QCursor.setPos(*cursor_at)
        if main_window_at:
            window = QWidget()
            window.setGeometry(*main_window_at, 400, 300)
            window.show()
            window.activateWindow()
            while QApplication.activeWindow() is not window:
                await asyncio.sleep(0.01)
        viewer = LogViewer("log", Path(sys.argv[2]))
        viewer.show()
        await asyncio.sleep(0.05)
        frame = viewer.frameGeometry()
        print(json.dumps({"screen": viewer.screen().name(), "frame": frame.getRect()}))
        viewer.close()

    app = QApplication([])
    with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
        runner.run(main())
    """
)


@pytest.mark.parametrize(
    ("cursor_at", "main_window_at", "screen"),
    [((1400, 100), None, "right"), ((100, 100), None, "left"), ((1400, 100), (50, 50), "left")],
    ids=["cursor-on-the-small-screen", "cursor-on-the-big-screen", "beside-the-active-window"],
)
def test_the_window_opens_on_the_screen_in_view(
    tmp_path: Path, cursor_at: tuple[int, int], main_window_at: tuple[int, int] | None, screen: str
) -> None:
    config = tmp_path / "screens.json"
    screens = [
        {"name": "left", "x": 0, "y": 0, "width": 1280, "height": 1024, "logicalDpi": 96, "logicalBaseDpi": 96},
        {"name": "right", "x": 1280, "y": 0, "width": 640, "height": 480, "logicalDpi": 96, "logicalBaseDpi": 96},
    ]
    config.write_text(json.dumps({"screens": screens}))
    (tmp_path / "server.log").write_text("a line\n")
    env = {**os.environ, "QT_QPA_PLATFORM": f"offscreen:configfile={config}"}
    result = subprocess.run(
        [sys.executable, "-c", TWO_SCREENS, json.dumps([cursor_at, main_window_at]), str(tmp_path / "server.log")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    placed = json.loads(result.stdout.splitlines()[-1])
    assert placed["screen"] == screen
    area = next(s for s in screens if s["name"] == screen)
    assert inside(QRect(area["x"], area["y"], area["width"], area["height"]), QRect(*placed["frame"])), placed
