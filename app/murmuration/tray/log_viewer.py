"""A log in a window: the tail at first, then every new line as it is written; search and copy.

It opens whole on the screen in view (`placement.py`), finds with every match highlighted (`find_bar.py`), and
copies the selection or everything it shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QCloseEvent, QFontDatabase, QGuiApplication, QShowEvent, QTextCursor
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from murmuration.tray import desktop
from murmuration.tray.find_bar import FindBar
from murmuration.tray.placement import place_on_screen

TAIL_BYTES = 256 * 1024
POLL_SECONDS = 0.5
MAX_LINES = 20000


@dataclass
class Position:
    """Where the viewer is in the log file; a new inode or a shorter file means it was rotated."""

    inode: int | None = None
    offset: int = 0


def read_new(path: Path, position: Position) -> tuple[str, Position]:
    """The text written to `path` since `position` (the tail on the first call), and the new position."""
    try:
        with open(path, "rb") as f:
            stat = os.fstat(f.fileno())
            start = position.offset
            if position.inode is None:
                start = max(0, stat.st_size - TAIL_BYTES)
            elif position.inode != stat.st_ino or stat.st_size < position.offset:
                start = 0  # rotated: the new file from its beginning
            f.seek(start)
            data = f.read()
    except FileNotFoundError:
        return "", Position(None, 0)
    skipped = 0
    if position.inode is None and start > 0:
        skipped = data.find(b"\n") + 1  # the partial first line of the tail
    # Keep a partial last line for the next read, so a line is never split in two.
    cut = data.rfind(b"\n") + 1
    text = data[skipped:cut] if cut > skipped else b""
    return text.decode("utf-8", errors="replace"), Position(stat.st_ino, start + max(cut, skipped))


class LogViewer(QWidget):
    """A window that tails and follows one log file."""

    def __init__(self, title: str, path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.path = path
        self.setWindowTitle(title)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.resize(900, 560)
        self.text = QPlainTextEdit(self)
        self.text.setReadOnly(True)
        self.text.setMaximumBlockCount(MAX_LINES)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.follow = QCheckBox("Follow", self)
        self.follow.setChecked(True)
        self.follow.toggled.connect(lambda on: self._scroll_to_end() if on else None)
        where = QLabel(str(path), self)
        where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # A long path is cut rather than widening the window past a small screen; the tooltip has it whole.
        where.setToolTip(str(path))
        where.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        folder = QPushButton("Open folder", self)
        folder.clicked.connect(lambda: desktop.open_folder(path.parent))
        self.finder = FindBar(self.text, self)
        self.copy = QPushButton("Copy", self)
        self.copy.setToolTip("Copy the selected text")
        self.copy.setEnabled(False)
        self.copy.clicked.connect(self.text.copy)
        self.text.copyAvailable.connect(self.copy.setEnabled)
        copy_all = QPushButton("Copy all", self)
        copy_all.setToolTip(f"Copy every line this window shows (the last {MAX_LINES:,} at most)")
        copy_all.clicked.connect(self.copy_all)
        bar = QHBoxLayout()
        bar.addWidget(where, 1)
        bar.addWidget(self.follow)
        bar.addWidget(folder)
        tools = QHBoxLayout()
        tools.addWidget(self.finder, 1)
        tools.addWidget(self.copy)
        tools.addWidget(copy_all)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addLayout(tools)
        layout.addWidget(self.text, 1)
        self._placed = False
        self._position = Position()
        self._reading: asyncio.Task[None] | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(int(POLL_SECONDS * 1000))
        self._timer.timeout.connect(self.poll)
        self._timer.start()
        self.poll()

    def poll(self) -> None:
        """Read what was added since the last look (in a worker thread) unless a read is under way."""
        if self._reading is None or self._reading.done():
            self._reading = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        text, self._position = await asyncio.to_thread(read_new, self.path, self._position)
        if text:
            self.append(text)

    def append(self, text: str) -> None:
        at_end = self.follow.isChecked() and not self.finder.query  # a search keeps its place
        cursor = QTextCursor(self.text.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(text)
        if self.finder.query:
            self.finder.refresh()
        if at_end:
            self._scroll_to_end()

    def copy_all(self) -> None:
        QGuiApplication.clipboard().setText(self.text.toPlainText())

    def showEvent(self, event: QShowEvent) -> None:
        # Placed once, as it first opens: a window a person has moved since stays where they put it.
        if not self._placed:
            self._placed = True
            place_on_screen(self)
        super().showEvent(event)

    def _scroll_to_end(self) -> None:
        bar = self.text.verticalScrollBar()
        bar.setValue(bar.maximum())

    def closeEvent(self, event: QCloseEvent) -> None:
        self._timer.stop()
        if self._reading is not None:
            with contextlib.suppress(RuntimeError):
                self._reading.cancel()
        super().closeEvent(event)
