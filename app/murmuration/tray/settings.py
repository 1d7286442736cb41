"""The tray's own settings, kept in the base folder (so `MURMURATION_HOME` makes every run hermetic)."""

from __future__ import annotations

import enum
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from murmuration.home import base_folder


def tray_log_file() -> Path:
    """The tray's own log, rotated, beside the instances."""
    return base_folder() / "logs" / "tray.log"


class QuitChoice(enum.StrEnum):
    """What Quit does with the instances that run."""

    ASK = "ask"
    STOP = "stop"
    LEAVE = "leave"


class TraySettings:
    """What the tray remembers: the quit choice, the last project folder, the window's geometry.

    Start at login lives in autostart.py: the OS is its record.
    """

    def __init__(self) -> None:
        self._store = QSettings(str(base_folder() / "tray.ini"), QSettings.Format.IniFormat)

    @property
    def quit_choice(self) -> QuitChoice:
        value = self._store.value("quit/choice", QuitChoice.ASK.value)
        try:
            return QuitChoice(str(value))
        except ValueError:
            return QuitChoice.ASK

    @quit_choice.setter
    def quit_choice(self, choice: QuitChoice) -> None:
        self._store.setValue("quit/choice", choice.value)
        self._store.sync()

    @property
    def last_project_folder(self) -> str:
        """The folder last chosen for a new instance ("" before the first)."""
        return str(self._store.value("new/project_folder", ""))

    @last_project_folder.setter
    def last_project_folder(self, path: str) -> None:
        self._store.setValue("new/project_folder", path)
        self._store.sync()

    def once(self, key: str) -> bool:
        """True the first time it is asked for `key` in this home, False ever after (for one-time notices)."""
        name = f"told/{key}"
        if self._store.value(name, "") == "yes":
            return False
        self._store.setValue(name, "yes")
        self._store.sync()
        return True

    @property
    def window_geometry(self) -> QByteArray | None:
        value = self._store.value("window/geometry")
        return value if isinstance(value, QByteArray) else None

    @window_geometry.setter
    def window_geometry(self, geometry: QByteArray) -> None:
        self._store.setValue("window/geometry", geometry)
        self._store.sync()
