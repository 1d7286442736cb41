"""The per-instance action table: every surface renders it, so each shows the same enabled state in every state."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QAbstractButton

from murmuration import registry
from murmuration.datafolder import Runtime
from murmuration.tray import action_table
from murmuration.tray.action_table import InstanceAction, Place, entries
from murmuration.tray.actions import InstanceActions
from murmuration.tray.controller import Tray
from murmuration.tray.instance import Instance, InstanceState
from murmuration.tray.instance_menu import InstanceMenu
from murmuration.tray.main_window import MainWindow
from murmuration.tray.stopped_page import StoppedPage

# Nothing listens there (a port below 1024 no test server takes): a sign-in against it fails at once.
NOWHERE = Runtime(pid=1, port=9, url="http://127.0.0.1:9/", token="t" * 43, started_at="", version="")

# (state, whether a server's runtime is known) as the model can hold them.
SITUATIONS = [
    (InstanceState.STOPPED, False),
    (InstanceState.STARTING, False),
    (InstanceState.RUNNING, True),
    (InstanceState.NOT_RESPONDING, True),
    (InstanceState.STOPPING, True),
    (InstanceState.CRASHED, False),
    (InstanceState.CRASH_LOOP, False),
    (InstanceState.FAILED, False),
]

# What a person may ask in each situation: the rules on the instance, written out by hand once here.
EXPECTED = {
    # state: (start, stop, restart, open in browser, copy URL)
    InstanceState.STOPPED: (True, False, False, False, False),
    InstanceState.STARTING: (False, True, False, False, False),
    InstanceState.RUNNING: (False, True, True, True, True),
    InstanceState.NOT_RESPONDING: (False, True, False, False, True),
    InstanceState.STOPPING: (False, True, False, False, True),
    InstanceState.CRASHED: (True, True, False, False, False),
    InstanceState.CRASH_LOOP: (True, False, False, False, False),
    InstanceState.FAILED: (True, False, False, False, False),
}


def put(tray: Tray, instance: Instance, state: InstanceState, serving: bool) -> None:
    """Put the instance in `state` as the model would, and tell every surface."""
    instance.state = state
    instance.runtime = NOWHERE if serving else None
    tray.model.instance_changed.emit(instance.id)


async def scanned(tray: Tray, home: Path, name: str) -> Instance:
    registry.create(name, home)
    await tray.model.refresh()  # one real scan, no watching: nothing changes the state but this test
    instance = tray.model.find_by_name(name)
    assert instance is not None
    return instance


def surfaces(tray: Tray, instance_id: str) -> tuple[dict[Place, dict[str, QAction | QAbstractButton]], InstanceMenu]:
    """Each place's rendered entries by name (QActions in the menu, buttons elsewhere), and the menu."""
    window = tray.window
    window.table.select_id(instance_id)
    menu = InstanceMenu(tray.model, tray.actions, instance_id)
    view = window.open_instance(instance_id)
    assert view is not None
    return {
        Place.MENU: dict(menu.bound),
        Place.WINDOW: dict(window.row_buttons),
        Place.TAB: dict(view.tab_buttons),
        Place.PAGE: dict(view.stopped.buttons),
    }, menu


async def test_every_surface_shows_the_tables_enabled_state_in_every_state(tray: Tray, home: Path) -> None:
    instance = await scanned(tray, home, "Agreed")
    places, menu = surfaces(tray, instance.id)
    for state, serving in SITUATIONS:
        put(tray, instance, state, serving)
        menu.refresh()  # the tray icon refreshes its menus on instance_changed; this one stands alone
        start, stop, restart, browser, copy_url = EXPECTED[state]
        assert (instance.can_start, instance.can_stop, instance.can_restart) == (start, stop, restart), state
        assert (instance.can_open_in_browser, instance.can_copy_url) == (browser, copy_url), state
        for entry in entries(Place.MENU):
            if entry is None:
                continue
            shown = {p: widgets[entry.name].isEnabled() for p, widgets in places.items() if p in entry.places}
            assert set(shown) == {p for p in Place if p in entry.places}, entry.name  # offered where it says
            assert set(shown.values()) == {entry.enabled(instance)}, (state, entry.name, shown)
        texts = {place: widgets["start"].text() for place, widgets in places.items() if "start" in widgets}
        assert set(texts.values()) == {"Start again" if state.troubled else "Start"}, texts


async def test_every_place_offers_exactly_the_tables_entries(tray: Tray, home: Path) -> None:
    instance = await scanned(tray, home, "Listed")
    places, _menu = surfaces(tray, instance.id)
    for place, widgets in places.items():
        assert list(widgets) == [e.name for e in entries(place) if e is not None], place


async def test_a_new_entry_is_one_line_in_the_table(tray: Tray, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    instance = await scanned(tray, home, "Greeted")
    asked: list[str] = []

    def greet(intents: InstanceActions, instance_id: str) -> None:
        asked.append(instance_id)

    line = InstanceAction("greet", "Greet", greet, lambda i: i.can_start, Place.MENU | Place.WINDOW | Place.PAGE)
    monkeypatch.setattr(action_table, "INSTANCE_ACTIONS", (*action_table.INSTANCE_ACTIONS, line))

    menu = InstanceMenu(tray.model, tray.actions, instance.id)
    window = MainWindow(tray.model, tray.actions, tray.settings, False, tray.app_actions)
    page = StoppedPage(tray.actions, instance.id)
    page.show_instance(instance)
    window.table.select_id(instance.id)
    try:
        assert menu.action_texts()[-1] == "Greet"
        assert window.row_button("greet").text() == "Greet"
        assert page.button("greet").isEnabled()

        menu.action("greet").trigger()
        window.row_button("greet").click()
        page.button("greet").click()
        assert asked == [instance.id] * 3

        put(tray, instance, InstanceState.RUNNING, True)
        menu.refresh()
        page.show_instance(instance)
        assert not menu.action("greet").isEnabled()
        assert not window.row_button("greet").isEnabled()
        assert not page.button("greet").isEnabled()
    finally:
        window.deleteLater()
        page.deleteLater()
        menu.deleteLater()


async def test_the_window_buttons_are_off_without_a_selected_row(tray: Tray, home: Path) -> None:
    instance = await scanned(tray, home, "Unselected")
    assert instance.can_start
    assert tray.window.table.selected_id() is None
    assert [name for name, button in tray.window.row_buttons.items() if button.isEnabled()] == []
