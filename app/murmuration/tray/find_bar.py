"""Find in a read-only text: every match highlighted, the current one selected, next and previous wrapping round.

F3 / Shift+F3 (and Enter / Shift+Enter in the field) go to the next or previous match, Ctrl+F goes to the field,
Escape there clears the search. Matching ignores case, as a person searching a log expects.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QKeySequence, QShortcut, QTextCharFormat, QTextCursor, QTextDocument
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit, QPushButton, QTextEdit, QWidget

# Past this many, matches are counted as "N+" and the rest are not painted: a 20 000-line log full of a common
# word must not stall the window on every keystroke.
MAX_MATCHES = 1000
MATCH_BACKGROUND = QColor("#ffe27a")
MATCH_TEXT = QColor("#1a1f27")


class FindBar(QWidget):
    """A search field with Previous and Next for `editor`, and a line saying where the current match is."""

    def __init__(self, editor: QPlainTextEdit, parent: QWidget) -> None:
        super().__init__(parent)
        self.editor = editor
        self.field = QLineEdit(self)
        self.field.setPlaceholderText("Find in log")
        self.field.setAccessibleName("Find in log")
        self.field.setClearButtonEnabled(True)
        self.previous = QPushButton("Previous", self)
        self.next = QPushButton("Next", self)
        self.status = QLabel(self)
        # Wide enough for the longest count, so the buttons do not move while a person steps through matches.
        self.status.setMinimumWidth(self.status.fontMetrics().horizontalAdvance(f"{MAX_MATCHES} of {MAX_MATCHES}+"))
        self.previous.clicked.connect(self.find_previous)
        self.next.clicked.connect(self.find_next)
        self.field.textChanged.connect(self._search_again)
        self.field.returnPressed.connect(self.find_next)
        self._key(QKeySequence(Qt.Modifier.SHIFT | Qt.Key.Key_Return), self.find_previous, self.field)
        self._key(QKeySequence(Qt.Key.Key_Escape), self.field.clear, self.field)
        self._key(QKeySequence(QKeySequence.StandardKey.Find), self.focus_field, parent, window=True)
        self._key(QKeySequence(QKeySequence.StandardKey.FindNext), self.find_next, parent, window=True)
        self._key(QKeySequence(QKeySequence.StandardKey.FindPrevious), self.find_previous, parent, window=True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.field, 1)
        layout.addWidget(self.previous)
        layout.addWidget(self.next)
        layout.addWidget(self.status)
        self._matches: list[QTextCursor] = []
        self._more = False
        self._show_count()

    def _key(self, keys: QKeySequence, slot: Callable[[], object], owner: QWidget, window: bool = False) -> None:
        shortcut = QShortcut(keys, owner)
        shortcut.setContext(Qt.ShortcutContext.WindowShortcut if window else Qt.ShortcutContext.WidgetShortcut)
        shortcut.activated.connect(slot)

    @property
    def query(self) -> str:
        return self.field.text()

    def focus_field(self) -> None:
        self.field.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.field.selectAll()

    def find_next(self) -> bool:
        """Select the next match after the current one (from the top past the end); False when there is none."""
        return self._go(backward=False)

    def find_previous(self) -> bool:
        """Select the match before the current one (from the end past the top); False when there is none."""
        return self._go(backward=True)

    def refresh(self) -> None:
        """Paint the matches again (the text changed: lines were added, or old ones dropped)."""
        self._paint()
        self._show_count()

    def _search_again(self) -> None:
        # A changed query starts at the current match, so typing more letters keeps the place when it still fits.
        cursor = self.editor.textCursor()
        cursor.setPosition(cursor.selectionStart())
        self.editor.setTextCursor(cursor)
        self._paint()
        if self.query:
            self._go(backward=False)
        else:
            self._show_count()

    def _go(self, backward: bool) -> bool:
        if not self.query:
            return False
        document = self.editor.document()
        flags = QTextDocument.FindFlag.FindBackward if backward else QTextDocument.FindFlag(0)
        found = document.find(self.query, self.editor.textCursor(), flags)
        if found.isNull():  # wrap round
            start = QTextCursor(document)
            start.movePosition(QTextCursor.MoveOperation.End if backward else QTextCursor.MoveOperation.Start)
            found = document.find(self.query, start, flags)
        if found.isNull():
            self._show_count()
            return False
        self.editor.setTextCursor(found)
        self.editor.centerCursor()
        self._show_count()
        return True

    def _paint(self) -> None:
        self._matches, self._more = [], False
        if self.query:
            document = self.editor.document()
            cursor = document.find(self.query, 0)
            while not cursor.isNull():
                if len(self._matches) == MAX_MATCHES:
                    self._more = True
                    break
                self._matches.append(cursor)
                cursor = document.find(self.query, cursor)
        painted = QTextCharFormat()
        painted.setBackground(MATCH_BACKGROUND)
        painted.setForeground(MATCH_TEXT)
        selections = []
        for match in self._matches:
            selection = QTextEdit.ExtraSelection()
            selection.cursor = match
            selection.format = painted
            selections.append(selection)
        self.editor.setExtraSelections(selections)

    def _show_count(self) -> None:
        has_query = bool(self.query)
        self.previous.setEnabled(has_query and bool(self._matches))
        self.next.setEnabled(has_query and bool(self._matches))
        if not has_query:
            self.status.setText("")
            return
        total = f"{len(self._matches)}+" if self._more else str(len(self._matches))
        if not self._matches:
            self.status.setText("Not found")
            return
        current = self.editor.textCursor()
        at = next((n for n, m in enumerate(self._matches, 1) if m.selectionStart() == current.selectionStart()), 0)
        self.status.setText(f"{at} of {total}" if at and current.hasSelection() else f"{total} found")
