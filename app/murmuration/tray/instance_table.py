"""The main window's list of instances: a table model over the InstanceModel, and its view."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QFocusEvent, QKeyEvent, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QWidget,
)

from murmuration.tray.icons import state_dot
from murmuration.tray.instance import Instance
from murmuration.tray.model import InstanceModel

COLUMNS = ("Name", "State", "Project folder", "Port", "URL", "Uptime", "Memory")

Index = QModelIndex | QPersistentModelIndex


def format_uptime(seconds: float | None) -> str:
    """Uptime as a person reads it: 45 s, 12 min, 3 h 05 min, 2 d 4 h; empty when not running."""
    if seconds is None:
        return ""
    s = int(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def format_folder(path: str) -> str:
    """A folder as a person reads it: under the home folder as `~/…`."""
    if not path:
        return ""
    home = str(Path.home())
    if path == home:
        return "~"
    if path.startswith(home + os.sep):
        return "~" + path[len(home) :]
    return path


def format_memory(rss: int | None) -> str:
    """Resident memory in MB (one decimal below 10 MB); "" when unknown."""
    if rss is None:
        return ""
    mb = rss / (1024 * 1024)
    return f"{mb:.1f} MB" if mb < 10 else f"{mb:.0f} MB"


class InstanceTableModel(QAbstractTableModel):
    """One row per instance, in the model's order; rows follow the model's signals."""

    def __init__(self, model: InstanceModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.ids = [instance.id for instance in model.instances()]
        model.instance_added.connect(self._added)
        model.instance_removed.connect(self._removed)
        model.instance_changed.connect(self._changed)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's own signature)
        return 0 if parent.isValid() else len(self.ids)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def instance_at(self, row: int) -> Instance | None:
        return self.model.get(self.ids[row]) if 0 <= row < len(self.ids) else None

    def row_of(self, instance_id: str) -> int:
        return self.ids.index(instance_id) if instance_id in self.ids else -1

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        instance = self.instance_at(index.row()) if index.isValid() else None
        if instance is None:
            return None
        column = COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self.text(instance, column)
        if role == Qt.ItemDataRole.DecorationRole and column == "State":
            return state_dot(instance.state)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == "Project folder":
                return f"Its processes run in {instance.cwd}" if instance.cwd else None
            return instance.status_sentence() or str(instance.folder.path)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in ("Port", "Uptime", "Memory"):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.UserRole:
            return instance.id
        return None

    @staticmethod
    def text(instance: Instance, column: str) -> str:
        """What one cell shows."""
        if column == "Name":
            return instance.label
        if column == "State":
            return instance.state.label
        if column == "Project folder":
            return format_folder(instance.cwd)
        if column == "Port":
            return str(instance.port) if instance.port is not None and instance.running else ""
        if column == "URL":
            return (instance.url or "") if instance.running else ""
        if column == "Uptime":
            return format_uptime(instance.uptime())
        return format_memory(instance.memory if instance.running else None)

    def _added(self, instance_id: str) -> None:
        if instance_id in self.ids:
            return
        self.beginInsertRows(QModelIndex(), len(self.ids), len(self.ids))
        self.ids.append(instance_id)
        self.endInsertRows()

    def _removed(self, instance_id: str) -> None:
        row = self.row_of(instance_id)
        if row < 0:
            return
        self.beginRemoveRows(QModelIndex(), row, row)
        del self.ids[row]
        self.endRemoveRows()

    def _changed(self, instance_id: str) -> None:
        row = self.row_of(instance_id)
        if row >= 0:
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))


# The list wears a frame in the highlight colour while it has the keyboard (as a focused line edit does), and its
# selected row fades without it (see _Rows): where the keys go is always visible.
FOCUS_MARK = """
QTableView { border: 1px solid palette(mid); }
QTableView:focus { border: 2px solid palette(highlight); }
"""


class _Rows(QStyledItemDelegate):
    """Draws a selected row faded while the list does not have the keyboard (Qt colours it alike either way)."""

    def initStyleOption(self, option: QStyleOptionViewItem, index: Index) -> None:
        super().initStyleOption(option, index)
        view = self.parent()
        if isinstance(view, QWidget) and not view.hasFocus():
            palette = option.palette
            faded = palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.Highlight).lighter(175)
            text = palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.Text)
            for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
                palette.setColor(group, QPalette.ColorRole.Highlight, faded)
                palette.setColor(group, QPalette.ColorRole.HighlightedText, text)
            option.palette = palette


class InstanceTableView(QTableView):
    """The table: a double-click or Enter on a row asks to open that instance; it always has a current row."""

    open_requested = Signal(str)

    def __init__(self, table: InstanceTableModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = table
        self.setModel(table)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.verticalHeader().setVisible(False)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COLUMNS.index("Project folder"), QHeaderView.ResizeMode.Stretch)
        header.setHighlightSections(False)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.doubleClicked.connect(self._open_index)
        self.setStyleSheet(FOCUS_MARK)
        self.setItemDelegate(_Rows(self))

    def selected_id(self) -> str | None:
        index = self.currentIndex()
        instance = self.table.instance_at(index.row()) if index.isValid() else None
        return instance.id if instance else None

    def select_id(self, instance_id: str) -> None:
        row = self.table.row_of(instance_id)
        if row >= 0:
            self.setCurrentIndex(self.table.index(row, 0))

    def _open_index(self, index: QModelIndex) -> None:
        instance = self.table.instance_at(index.row())
        if instance is not None:
            self.open_requested.emit(instance.id)

    def _keep_a_current_row(self) -> None:
        # Enter needs a row to open, and the focus mark a row to show: the first one when none is chosen.
        if not self.currentIndex().isValid() and self.table.rowCount() > 0:
            self.setCurrentIndex(self.table.index(0, 0))

    def focusInEvent(self, event: QFocusEvent) -> None:
        self._keep_a_current_row()
        super().focusInEvent(event)
        self.viewport().update()  # the whole selected row changes colour, not only the current cell

    def focusOutEvent(self, event: QFocusEvent) -> None:
        super().focusOutEvent(event)
        self.viewport().update()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        # Return and the keypad's Enter, with or without a modifier held by accident: the current row opens.
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if self.currentIndex().isValid():
                self._open_index(self.currentIndex())
            event.accept()
            return
        super().keyPressEvent(event)
