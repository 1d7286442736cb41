"""The progress shown while "Stop and quit" stops the running instances: how many are down, and who is awaited."""

from __future__ import annotations

import contextlib

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QProgressDialog, QWidget

from murmuration.tray.instance import InstanceState
from murmuration.tray.model import InstanceModel


class StopProgress(QProgressDialog):
    """Counts the instances in `ids` as they stop (it follows the model); there is nothing to cancel."""

    def __init__(self, model: InstanceModel, ids: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.ids = ids
        self.setWindowTitle("Quitting Murmuration")
        # Not modal: a modal progress dialog runs a nested event loop at each step, under the app's asyncio loop.
        self.setWindowModality(Qt.WindowModality.NonModal)
        self.setCancelButton(None)  # no Cancel: the stops are already asked for
        self.setAutoClose(False)
        self.setAutoReset(False)
        self.setMinimumDuration(0)  # a stop can take seconds: say so at once
        self.setRange(0, len(ids))
        model.instance_changed.connect(self._follow)
        self._follow()

    def waiting_for(self) -> list[str]:
        """The names of the instances not stopped yet."""
        names = []
        for instance_id in self.ids:
            instance = self.model.get(instance_id)
            if instance is not None and (instance.runtime is not None or instance.state is InstanceState.STOPPING):
                names.append(instance.label)
        return names

    def _follow(self, *_: object) -> None:
        waiting = self.waiting_for()
        self.setValue(len(self.ids) - len(waiting))
        some = "1 instance" if len(self.ids) == 1 else f"{len(self.ids)} instances"
        if waiting:
            self.setLabelText(f"Stopping {some}; waiting for {', '.join(waiting)}.")
        else:
            self.setLabelText(f"Stopped {some}; quitting.")

    def finish(self) -> None:
        """Let go: stop following the model and close."""
        with contextlib.suppress(RuntimeError, TypeError):
            self.model.instance_changed.disconnect(self._follow)
        self.close()
        self.deleteLater()
