"""The New instance dialog: the project folder its processes run in, and a name (suggested from the folder)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from murmuration import registry

# A dialog has a title and a close button; minimise and maximise make no sense for it.
DIALOG_FLAGS = Qt.WindowType.Dialog | Qt.WindowType.WindowTitleHint | Qt.WindowType.WindowCloseButtonHint


def suggested_name(folder: Path, taken: set[str], fallback: str) -> str:
    """The folder's own name (made unique with " 2", " 3"…), or `fallback` for the home folder or a root."""
    base = folder.name
    if not base or folder == Path.home():
        return fallback
    name, n = base, 2
    while name in taken:
        name, n = f"{base} {n}", n + 1
    return name


class NewInstanceDialog(QDialog):
    """Asks for a project folder and a name; `submitted` carries (name, folder), then waits for `done_creating`
    or `show_error`."""

    submitted = Signal(str, str)

    def __init__(
        self, suggested: str, folder: Path | None = None, taken: set[str] | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent, DIALOG_FLAGS)
        self.setWindowTitle("New instance")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._fallback = suggested
        self._taken = taken or set()
        start = folder if folder is not None and folder.is_dir() else Path.home()
        self.folder = QLineEdit(str(start), self)
        self.folder.setMinimumWidth(300)
        self.choose_button = QPushButton("Choose…", self)
        self.choose_button.clicked.connect(self.choose_folder)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(self.choose_button)
        hint = QLabel("The processes its agents start run in this folder; change it later from the instance's menu.")
        hint.setWordWrap(True)
        hint.setEnabled(False)  # greyed: an explanation, not a field
        self.name = QLineEdit(suggested_name(start, self._taken, suggested), self)
        self.name.setMaxLength(registry.MAX_NAME)
        # The name follows the folder until the person types one of their own.
        self._name_edited = False
        self.name.textEdited.connect(self._name_typed)
        self.error = QLabel("", self)
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #c5221f;")
        self.error.hide()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.create_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.create_button.setText("Create and start")
        self.create_button.setDefault(True)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.name.textChanged.connect(self._edited)
        self.folder.textChanged.connect(self._edited)
        form = QFormLayout()
        form.addRow("Project folder:", folder_row)
        form.addRow("", hint)
        form.addRow("Name:", self.name)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        # The dialog grows for an error and shrinks back without it: no clipped sentence, no empty gap.
        layout.setSizeConstraint(QLayout.SizeConstraint.SetFixedSize)
        self.setMinimumWidth(520)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        # Selected once shown (focusing the field may clear an earlier selection): typing replaces the name.
        self.name.setFocus(Qt.FocusReason.ActiveWindowFocusReason)
        self.name.selectAll()

    def choose_folder(self) -> None:
        """The desktop's folder picker, opened at the current choice."""
        chosen = QFileDialog.getExistingDirectory(self, "Project folder of the new instance", self.folder.text())
        if chosen:
            self.set_folder(Path(chosen))

    def set_folder(self, folder: Path) -> None:
        """Take `folder` as the project folder (and its name as the name, unless one was typed)."""
        self.folder.setText(str(folder))
        if not self._name_edited:
            self.name.setText(suggested_name(folder, self._taken, self._fallback))

    def accept(self) -> None:
        """Check the name and folder, then hand them on; the dialog stays open (busy) until the instance exists."""
        try:
            name = registry.check_name(self.name.text())
            if not self.folder.text().strip():
                raise ValueError("Choose the project folder its processes run in.")
            folder = registry.check_cwd(Path(self.folder.text().strip()))
        except ValueError as exc:
            self.show_error(str(exc))
            return
        self._set_busy(True)
        self.submitted.emit(name, str(folder))

    def done_creating(self) -> None:
        super().accept()

    def show_error(self, message: str) -> None:
        self._set_busy(False)
        self.error.setText(message)
        self.error.show()
        self.name.setFocus()
        self.name.selectAll()

    def _name_typed(self) -> None:
        self._name_edited = True

    def _edited(self) -> None:
        self.error.hide()

    def _set_busy(self, busy: bool) -> None:
        for widget in (self.name, self.folder, self.choose_button, self.create_button):
            widget.setEnabled(not busy)
        self.create_button.setText("Creating…" if busy else "Create and start")
