"""The web engine's first view: the window does not flicker, a tab opens at once saying it loads, and the engine
is warmed in the background once the tray is idle."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from murmuration import registry
from murmuration.tray import controller
from murmuration.tray.controller import Tray
from tests.tray.tray_process import tray_environment
from tests.tray.waits import dashboard_shows, until
from tests.xdisplay import tray_display

from .conftest import running_tray

PROBE = Path(__file__).with_name("first_view_probe.py")


def first_view(display: str, *args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, str(PROBE), *args], env=tray_environment(display), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_the_first_dashboard_tab_does_not_make_the_window_vanish_and_reappear() -> None:
    with tray_display() as display:
        seen = first_view(display)
        without = first_view(display, "--without-surface")
    assert seen == {"view": True, "same_window": True, "visible": True, "events": []}
    # What the test catches: without the prepared surface, the native window is destroyed and made again.
    assert without["same_window"] is False
    assert "Hide" in without["events"]  # type: ignore[operator]


async def test_a_tab_opens_at_once_saying_it_loads_then_shows_the_dashboard(tray: Tray, home: Path) -> None:
    registry.create("Slow Start", home)
    tray.start()
    model = tray.model
    await until(lambda: model.get("slow-start"), model.instance_added)
    assert await model.start("slow-start")

    view = tray.window.open_instance("slow-start")

    assert view is not None
    assert view.shown == "loading"  # before any event is processed: the tab is never blank
    assert view.loading.text() == "Loading the dashboard of Slow Start…"
    await dashboard_shows(view.page, "Slow Start")
    await until(lambda: view.shown == "dashboard", view.page_shown)


async def test_the_web_engine_is_warmed_once_the_tray_is_idle_and_let_go_when_a_tab_holds_it(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(controller, "WARM_UP_AFTER_MS", 50)
    registry.create("Later", home)
    async with running_tray(warm_up=True) as app:
        app.start()
        warm = await until(lambda: app.warm, app.model.changed, what="the warmed engine")
        assert app.model.first_scan_done
        assert not app.model.looking  # it waited for the tray to be idle
        page = warm.page
        await until(lambda: page.url().toString() == "about:blank", page.loadFinished)

        app.open_instance("later")

        assert app.warm is None  # the tab holds the engine now
