"""New instance: a dialog with the name filled in; Enter creates and starts it and opens its dashboard."""

from __future__ import annotations

from pathlib import Path

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from murmuration import registry
from murmuration.client import InstanceClient
from murmuration.tray.controller import Tray
from murmuration.tray.instance import InstanceState
from tests.tray.waits import dashboard_shows, until

from .conftest import SCREENSHOTS


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


async def test_new_instance_in_a_chosen_folder_runs_its_processes_there(tray: Tray, home: Path, tmp_path: Path) -> None:
    project = tmp_path / "webshop"
    project.mkdir()
    tray.start()
    await until(lambda: tray.model.first_scan_done, tray.model.changed)
    dialog = tray.new_instance()
    assert dialog.folder.text() == str(Path.home())  # nothing chosen before: the home folder
    assert dialog.name.text() == "Instance 1"  # the home folder's name is no name for a project

    dialog.set_folder(project)  # what the folder picker hands back
    assert dialog.name.text() == "webshop"
    dialog.resize(dialog.sizeHint())
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert dialog.grab().save(str(SCREENSHOTS / "new_instance_dialog.png"))
    QTest.keyClick(dialog.name, Qt.Key.Key_Return)

    instance = await until(lambda: tray.model.find_by_name("webshop"), tray.model.instance_added)
    await until(lambda: instance.state is InstanceState.RUNNING, tray.model.instance_changed, what="running")
    assert instance.cwd == str(project)
    assert registry.find("webshop").read_info().cwd == str(project)
    assert tray.window.table_model.text(instance, "Project folder") == str(project)
    runtime = instance.runtime
    assert runtime is not None
    async with await InstanceClient.connect(runtime.url, runtime.token) as client:
        await client.call("start_process", {"command": ["touch", "made-here"], "immediate": True})
    await until(lambda: (project / "made-here").exists(), what="the process's file in the project folder")

    again = tray.new_instance()  # the last choice is remembered, and its name is taken now
    assert again.folder.text() == str(project)
    assert again.name.text() == "webshop 2"
    again.close()


async def test_a_typed_name_stays_when_the_folder_changes(tray: Tray, tmp_path: Path) -> None:
    tray.start()
    dialog = tray.new_instance()
    QTest.keyClicks(dialog.name, "My own name")
    dialog.set_folder(tmp_path)
    assert dialog.name.text() == "My own name"
    assert dialog.folder.text() == str(tmp_path)
    dialog.folder.setText(str(tmp_path / "nowhere"))
    QTest.keyClick(dialog.name, Qt.Key.Key_Return)
    assert "is not a folder" in dialog.error.text()
    assert dialog.isVisible()
    assert tray.model.instances() == []
    dialog.close()


async def test_the_project_folder_can_be_changed_later(tray: Tray, home: Path, tmp_path: Path) -> None:
    registry.create("Mover", home)
    tray.start()
    await until(lambda: tray.model.get("mover"), tray.model.instance_added)

    await tray.actions._set_project_folder("mover", tmp_path)

    assert registry.find("Mover").read_info().cwd == str(tmp_path)
    instance = tray.model.get("mover")
    assert instance is not None
    assert instance.cwd == str(tmp_path)
    assert tray.notifications[-1][0] == "Project folder changed"
    await tray.actions._set_project_folder("mover", tmp_path / "gone")
    assert tray.notifications[-1] == (
        "Project folder unchanged",
        f"{tmp_path / 'gone'} is not a folder; choose an existing folder for the instance's processes.",
    )
    assert registry.find("Mover").read_info().cwd == str(tmp_path)
