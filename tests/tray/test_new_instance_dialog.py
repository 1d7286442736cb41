"""New instance: a dialog with the name filled in; Enter creates and starts it and opens its dashboard."""

from __future__ import annotations

from pathlib import Path

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from murmuration import registry
from murmuration.tray.controller import Tray
from murmuration.tray.instance import InstanceState
from tests.tray.waits import dashboard_shows, until


async def test_enter_creates_and_starts_instance_n_and_opens_its_dashboard(tray: Tray, home: Path) -> None:
    registry.create("Instance 1", home)
    tray.start()
    await until(lambda: tray.model.first_scan_done, tray.model.changed)

    dialog = tray.new_instance()
    assert dialog.name.text() == "Instance 2"
    assert dialog.name.selectedText() == "Instance 2"  # typing replaces it

    QTest.keyClick(dialog.name, Qt.Key.Key_Return)

    instance = await until(lambda: tray.model.find_by_name("Instance 2"), tray.model.instance_added)
    await until(lambda: instance.state is InstanceState.RUNNING, tray.model.instance_changed, what="running")
    assert registry.find("Instance 2").path.parent == home / "instances"
    assert not shiboken6.isValid(dialog)  # accepted and gone
    view = tray.window.views[instance.id]
    assert tray.window.isVisible()
    assert tray.window.tabs.currentWidget() is view
    await until(lambda: view.shown == "dashboard", view.page_shown, what="the dashboard")
    await dashboard_shows(view.page, "Instance 2")


async def test_a_taken_or_empty_name_is_refused_in_the_dialog(tray: Tray, home: Path) -> None:
    registry.create("Taken", home)
    tray.start()
    await until(lambda: tray.model.first_scan_done, tray.model.changed)
    dialog = tray.new_instance()

    dialog.name.setText("   ")
    QTest.keyClick(dialog.name, Qt.Key.Key_Return)
    assert dialog.isVisible()
    assert dialog.error.text() == "An instance name cannot be empty."

    dialog.name.setText("Taken")
    QTest.keyClick(dialog.name, Qt.Key.Key_Return)
    await until(lambda: dialog.error.isVisibleTo(dialog) and "already exists" in dialog.error.text(), what="error")
    assert dialog.isVisible()
    assert dialog.name.isEnabled()
    assert [i.name for i in tray.model.instances()] == ["Taken"]

    QTest.keyClick(dialog.name, Qt.Key.Key_Escape)
    assert not dialog.isVisible()


async def test_a_second_new_instance_brings_the_open_dialog_forward(tray: Tray) -> None:
    tray.start()
    first = tray.new_instance()
    assert tray.new_instance() is first
    assert first.name.text() == "Instance 1"
