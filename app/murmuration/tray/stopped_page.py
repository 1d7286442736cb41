"""The native page a tab shows while its instance is down: what happened, and what can be done (Start, Show log)."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from murmuration.tray.action_table import ActionButton, BoundAction, Place, entries
from murmuration.tray.actions import InstanceActions
from murmuration.tray.icons import state_dot
from murmuration.tray.instance import Instance, InstanceState


def explanation(instance: Instance) -> str:
    """One sentence about why there is no dashboard right now."""
    state = instance.state
    if state is InstanceState.STARTING:
        return f"{instance.label} is starting; its dashboard appears here in a moment."
    if state is InstanceState.STOPPING:
        return f"{instance.label} is stopping."
    if state is InstanceState.RUNNING:
        return f"Opening the dashboard of {instance.label}…"
    if instance.message or instance.restart_at is not None:
        return instance.status_sentence()
    if state is InstanceState.NOT_RESPONDING:
        return f"{instance.label} runs but does not answer yet."
    return f"{instance.label} is stopped; start it to see its dashboard."


class StoppedPage(QWidget):
    """Shown instead of the dashboard when the instance is not running; it never shows a blank tab.

    Its buttons are the action table's page entries (Start first, the default for Enter).
    """

    def __init__(self, intents: InstanceActions, instance_id: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("stoppedPage")
        self.badge = QLabel(self)
        self.badge.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title = QLabel(self)
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        font = QFont(self.title.font())
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        self.title.setFont(font)
        self.sentence = QLabel(self)
        self.sentence.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.sentence.setWordWrap(True)
        self.sentence.setMaximumWidth(520)
        self.page_actions: dict[str, BoundAction] = {}
        self.buttons: dict[str, ActionButton] = {}
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for entry in entries(Place.PAGE):
            assert entry is not None  # only the menu has separators
            action = BoundAction(entry, intents, lambda: instance_id, self)
            button = ActionButton(action, self)
            button.setDefault(not self.buttons)
            self.page_actions[entry.name] = action
            self.buttons[entry.name] = button
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        layout.addWidget(self.badge)
        layout.addWidget(self.title)
        layout.addSpacing(6)
        # Centred by stretches, not by an alignment flag: with a flag a wrapped label gets one line's height.
        sentence_row = QHBoxLayout()
        sentence_row.addStretch(1)
        sentence_row.addWidget(self.sentence, 4)
        sentence_row.addStretch(1)
        layout.addLayout(sentence_row)
        layout.addSpacing(14)
        layout.addLayout(buttons)
        layout.addStretch(3)
        self._instance: Instance | None = None
        self._countdown = QTimer(self)
        self._countdown.setInterval(1000)
        self._countdown.timeout.connect(self._tick)

    def _tick(self) -> None:
        if self._instance is not None:
            self.show_instance(self._instance)

    def show_instance(self, instance: Instance) -> None:
        """Render the instance's state: its name, a sentence, and Start only when starting makes sense."""
        self._instance = instance
        # The wait before a restart counts down while it lasts; nothing ticks otherwise.
        if instance.restart_in() is not None:
            self._countdown.start()
        else:
            self._countdown.stop()
        self.badge.setPixmap(state_dot(instance.state, 48).pixmap(48, 48))
        self.title.setText(f"{instance.label} — {instance.state.label}")
        self.sentence.setText(explanation(instance))
        for action in self.page_actions.values():
            action.render(instance)

    def button(self, name: str) -> ActionButton:
        """The button for the action table's entry `name`."""
        return self.buttons[name]
