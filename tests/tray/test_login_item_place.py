"""Start at login from a copy that will vanish: the tray writes no login item and says where to move the app."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from murmuration.tray import autostart
from murmuration.tray.controller import Tray
from tests.tray.waits import until


async def test_start_at_login_from_downloads_writes_nothing_and_says_to_move_the_app(
    tray: Tray, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # This process as a copy started from ~/Downloads (a Python there, with no `murmuration` script beside it).
    home = tmp_path / "person"
    python = home / "Downloads" / "Murmuration" / "python3"
    python.parent.mkdir(parents=True)
    python.symlink_to(sys.executable)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setattr(sys, "executable", str(python))
    tray.start()

    tray.window.login_action.trigger()
    await until(
        lambda: tray.notifications and not tray.window.login_action.isChecked(), what="a notice and the box unticked"
    )
    title, message = tray.notifications[-1]
    assert title == "Start at login unchanged"
    assert message.startswith("Murmuration runs from your Downloads folder")
    assert message.endswith("try again.")
    assert not autostart.is_enabled()
    assert not (home / ".config" / "autostart").exists()
