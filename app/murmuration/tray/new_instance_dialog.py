"""The New instance dialog: one field, filled in ("Instance N"), Enter creates it."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QLineEdit, QVBoxLayout, QWidget

from murmuration import registry


class NewInstanceDialog(QDialog):
    """Asks for a name; `submitted` carries it, and the dialog waits for `done_creating` or `show_error`."""

    submitted = Signal(str)

    def __init__(self, suggested: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New instance")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        prompt = QLabel("Name of the new instance:", self)
        self.name = QLineEdit(suggested, self)
        self.name.setMaxLength(registry.MAX_NAME)
        prompt.setBuddy(self.name)
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
        layout = QVBoxLayout(self)
        layout.addWidget(prompt)
        layout.addWidget(self.name)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(360)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        # Selected once shown (focusing the field may clear an earlier selection): typing replaces the name.
        self.name.setFocus(Qt.FocusReason.ActiveWindowFocusReason)
        self.name.selectAll()

    def accept(self) -> None:
        """Check the name, then hand it on; the dialog stays open (busy) until the instance exists."""
        try:
            name = registry.check_name(self.name.text())
        except ValueError as exc:
            self.show_error(str(exc))
            return
        self._set_busy(True)
        self.submitted.emit(name)

    def done_creating(self) -> None:
        super().accept()

    def show_error(self, message: str) -> None:
        self._set_busy(False)
        self.error.setText(message)
        self.error.show()
        self.name.setFocus()
        self.name.selectAll()

    def _edited(self) -> None:
        self.error.hide()

    def _set_busy(self, busy: bool) -> None:
        self.name.setEnabled(not busy)
        self.create_button.setEnabled(not busy)
        self.create_button.setText("Creating…" if busy else "Create and start")
