"""The desktop's handlers failing: a notification says why, and the link or path is on the clipboard instead."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from PySide6.QtGui import QGuiApplication

from murmuration import registry
from murmuration.tray import desktop
from murmuration.tray.controller import Tray
from murmuration.tray.instance_menu import InstanceMenu
from tests.tray.test_tray_menu import serve_http, started
from tests.tray.waits import until

REAL_LAUNCH = desktop.launch  # taken before the autouse fixture replaces it with a recorder


def stand_in_opener(folder: Path, script: str) -> Path:
    """An `xdg-open` in `folder` (put first on PATH) that runs `script`; what it was asked goes to a file."""
    folder.mkdir(exist_ok=True)
    opener = folder / "xdg-open"
    opener.write_text(f'#!/bin/sh\necho "$1" >> "{folder}/asked"\n{script}\n')
    opener.chmod(opener.stat().st_mode | stat.S_IXUSR)
    return opener


@pytest.fixture
def failing_opener(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A desktop whose xdg-open fails as a browser refusing to run as root does."""
    folder = tmp_path / "bin"
    stand_in_opener(folder, 'echo "Running as root without --no-sandbox is not supported." >&2\nexit 4')
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(desktop, "launch", REAL_LAUNCH)
    return folder


async def test_a_browser_that_fails_is_told_and_the_sign_in_link_is_copied(
    tray: Tray, home: Path, failing_opener: Path
) -> None:
    instance_id = registry.create("No Browser", home).read_info().id
    tray.start()
    await until(lambda: tray.model.get(instance_id), tray.model.instance_added)
    assert await tray.model.start(instance_id)
    QGuiApplication.clipboard().setText("")

    tray.actions.open_in_browser(instance_id)

    await until(lambda: tray.notifications and "browser" in tray.notifications[-1][0], what="the notification")
    title, sentence = tray.notifications[-1]
    assert title == "Cannot open No Browser in a browser"
    assert "exit status 4" in sentence
    assert "Running as root without --no-sandbox" in sentence  # the opener's own reason
    assert "sign-in link is on the clipboard" in sentence
    link = QGuiApplication.clipboard().text()
    assert link.startswith(tray.model.get(instance_id).url + "login?code=")  # type: ignore[union-attr]
    assert (failing_opener / "asked").read_text().strip() == link  # the opener was really asked


async def test_a_file_manager_that_fails_is_told_and_the_path_is_copied(
    tray: Tray, home: Path, failing_opener: Path
) -> None:
    folder = registry.create("No Files", home)
    tray.start()
    await until(lambda: tray.model.get("no-files"), tray.model.instance_added)

    tray.actions.open_data_folder("no-files")

    await until(lambda: tray.notifications, what="the notification")
    title, sentence = tray.notifications[-1]
    assert title == "Cannot show the data folder of No Files"
    assert "exit status 4" in sentence
    assert str(folder.path) in sentence
    assert QGuiApplication.clipboard().text() == str(folder.path)


async def test_a_process_address_that_cannot_be_opened_is_told_and_copied(
    tray: Tray, home: Path, failing_opener: Path
) -> None:
    instance_id = await started(tray, home, "No Preview")
    url = (await serve_http(instance_id, "Preview"))["urls"][0]
    menu = InstanceMenu(tray.model, tray.actions, instance_id)
    await menu.load_process_urls()
    QGuiApplication.clipboard().setText("")

    menu.process_url_actions[0].trigger()

    await until(lambda: tray.notifications and url in tray.notifications[-1][0], what="the notification")
    title, sentence = tray.notifications[-1]
    assert title == f"Cannot open {url}"
    assert "exit status 4" in sentence
    assert "the address of this process of No Preview is on the clipboard" in sentence
    assert QGuiApplication.clipboard().text() == url
    assert (failing_opener / "asked").read_text().strip() == url


async def test_no_opener_at_all_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing to run here
    assert desktop.run_opener("http://127.0.0.1:1/") == "no program to open it is installed (xdg-open is missing)"


def test_an_opener_that_works_or_keeps_running_is_success(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    folder = tmp_path / "bin"
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    stand_in_opener(folder, "exit 0")
    assert desktop.run_opener("http://127.0.0.1:1/") is None
    # A browser started in front of the opener: still running after the wait, so on its way.
    stand_in_opener(folder, f'while [ ! -e "{folder}/done" ]; do sleep 0.05; done')
    monkeypatch.setattr(desktop, "OPENER_WAIT", 0.3)
    assert desktop.run_opener("http://127.0.0.1:1/") is None
    (folder / "done").touch()
