"""The tray's own settings, kept in the base folder (so `MURMURATION_HOME` makes every run hermetic)."""

from __future__ import annotations

import enum

from PySide6.QtCore import QByteArray, QSettings

from murmuration.home import base_folder


class QuitChoice(enum.StrEnum):
    """What Quit does with the instances that run."""

    ASK = "ask"
    STOP = "stop"
    LEAVE = "leave"


class TraySettings:
    """The quit choice, the main window's geometry; start-at-login lives in autostart.py (the OS is its record)."""

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
    def window_geometry(self) -> QByteArray | None:
        value = self._store.value("window/geometry")
        return value if isinstance(value, QByteArray) else None

    @window_geometry.setter
    def window_geometry(self, geometry: QByteArray) -> None:
        self._store.setValue("window/geometry", geometry)
        self._store.sync()
