"""What a tab shows when its page cannot be shown (a crashed renderer, a refused sign-in): a sentence and Reload."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget


class ReloadPage(QWidget):
    """Never a blank tab: say what happened and offer to load the dashboard again."""

    reload_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("reloadPage")
        self.sentence = QLabel(self)
        self.sentence.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.sentence.setWordWrap(True)
        self.sentence.setMaximumWidth(520)
        self.reload_button = QPushButton("Reload", self)
        self.reload_button.setDefault(True)
        self.reload_button.clicked.connect(self.reload_requested)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.reload_button)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        # Centred by stretches, not by an alignment flag: with a flag a wrapped label gets one line's height.
        sentence_row = QHBoxLayout()
        sentence_row.addStretch(1)
        sentence_row.addWidget(self.sentence, 4)
        sentence_row.addStretch(1)
        layout.addLayout(sentence_row)
        layout.addSpacing(14)
        layout.addLayout(row)
        layout.addStretch(3)

    def say(self, sentence: str) -> None:
        self.sentence.setText(sentence)
