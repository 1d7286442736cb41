"""What a person can ask of one instance, declared once: the tray's per-instance action table.

Each entry says its words, when it may be asked (a rule of `Instance`), what asking does (an `InstanceActions`
intent) and where it is offered. The instance's menu (in the tray icon's menu and on a row of the main window),
the buttons over the main window's list, the bar over an open tab and the page a tab shows while its instance is
down all render from `INSTANCE_ACTIONS` through `BoundAction`, so a new per-instance item is one line here and the
surfaces can never disagree about when it is enabled.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QPushButton, QWidget

from murmuration.tray.actions import InstanceActions
from murmuration.tray.instance import Instance
from murmuration.tray.mcp_config import CLIENT_LABELS


class Place(enum.Flag):
    """Where an entry is offered."""

    MENU = enum.auto()  # the instance's menu: in the tray icon's menu and on a row of the main window
    WINDOW = enum.auto()  # a button over the main window's list, acting on the selected row
    TAB = enum.auto()  # a button in the bar over the instance's open tab
    PAGE = enum.auto()  # a button on the page its tab shows while it is down


Rule = Callable[[Instance], bool]
Intent = Callable[[InstanceActions, str], object]


def _always(instance: Instance) -> bool:
    return True


@dataclass(frozen=True)
class InstanceAction:
    """One thing a person can ask of an instance."""

    name: str
    text: str | Callable[[Instance], str]
    intent: Intent
    enabled: Rule = _always
    places: Place = Place.MENU
    # A check mark that shows this rule; triggering the entry asks its intent to flip it.
    checked: Rule | None = None
    # The title of the submenu it sits in, within the instance's menu ("" for the menu itself).
    submenu: str = ""
    # Destroys something: set apart from the others (last in the menu, at the far end of a bar).
    destructive: bool = False

    def text_for(self, instance: Instance | None) -> str:
        """Its words for `instance` (or its plain words when there is none)."""
        if isinstance(self.text, str):
            return self.text
        return self.text(instance) if instance is not None else self.name.replace("_", " ").capitalize()


def _start_text(instance: Instance) -> str:
    return "Start again" if instance.state.troubled else "Start"


def _copy_mcp_config(client: str) -> Intent:
    return lambda actions, instance_id: actions.copy_mcp_config(instance_id, client)


# A None between entries is a separator in the menu (the other places have none).
INSTANCE_ACTIONS: tuple[InstanceAction | None, ...] = (
    InstanceAction("open", "Open", InstanceActions.open, places=Place.MENU | Place.WINDOW),
    InstanceAction("open_in_browser", "Open in browser", InstanceActions.open_in_browser,
                   lambda i: i.can_open_in_browser, Place.MENU | Place.TAB),
    InstanceAction("copy_url", "Copy URL", InstanceActions.copy_url, lambda i: i.can_copy_url),
    *(
        InstanceAction(f"copy_mcp_config:{client}", f"For {label}", _copy_mcp_config(client),
                       submenu="Copy MCP config")
        for client, label in CLIENT_LABELS.items()
    ),
    None,
    InstanceAction("start", _start_text, InstanceActions.start, lambda i: i.can_start,
                   Place.MENU | Place.WINDOW | Place.PAGE),
    InstanceAction("stop", "Stop", InstanceActions.stop, lambda i: i.can_stop, Place.MENU | Place.WINDOW),
    InstanceAction("restart", "Restart", InstanceActions.restart, lambda i: i.can_restart,
                   Place.MENU | Place.WINDOW),
    InstanceAction("autostart", "Start with Murmuration", InstanceActions.toggle_autostart,
                   checked=lambda i: i.autostart),
    None,
    InstanceAction("show_log", "Show log", InstanceActions.show_log,
                   places=Place.MENU | Place.WINDOW | Place.TAB | Place.PAGE),
    InstanceAction("open_data_folder", "Open data folder", InstanceActions.open_data_folder),
    InstanceAction("change_project_folder", "Change project folder…", InstanceActions.change_project_folder),
    None,
    InstanceAction("delete", "Delete…", InstanceActions.delete, places=Place.MENU | Place.WINDOW, destructive=True),
)  # fmt: skip


def entries(place: Place) -> Iterator[InstanceAction | None]:
    """The entries offered at `place`, in the table's order (separators only for the menu)."""
    for entry in INSTANCE_ACTIONS:
        if entry is None:
            if place is Place.MENU:
                yield None
        elif place in entry.places:
            yield entry


class BoundAction(QAction):
    """One entry as a QAction, for the instance its surface names: a fixed one, or the selected row."""

    def __init__(
        self, entry: InstanceAction, intents: InstanceActions, target: Callable[[], str | None], parent: QObject
    ) -> None:
        super().__init__(entry.text_for(None), parent)
        self.entry = entry
        self._intents = intents
        self._target = target
        self.setObjectName(entry.name)
        self.setCheckable(entry.checked is not None)
        self.triggered.connect(self._ask)

    def _ask(self) -> None:
        instance_id = self._target()
        if instance_id is not None:
            self.entry.intent(self._intents, instance_id)

    def render(self, instance: Instance | None) -> None:
        """Words, enabled state and check mark for `instance` (all off when there is none)."""
        entry = self.entry
        self.setText(entry.text_for(instance))
        self.setEnabled(instance is not None and entry.enabled(instance))
        if entry.checked is not None:
            self.setChecked(instance is not None and entry.checked(instance))


class ActionButton(QPushButton):
    """A push button that is `action`: it triggers it and shows its words and enabled state as they change."""

    def __init__(self, action: QAction, parent: QWidget) -> None:
        super().__init__(action.text(), parent)
        self.action = action
        self.setObjectName(action.objectName())
        self.clicked.connect(action.trigger)
        action.changed.connect(self._follow)
        self._follow()

    def _follow(self) -> None:
        self.setText(self.action.text())
        self.setEnabled(self.action.isEnabled())
