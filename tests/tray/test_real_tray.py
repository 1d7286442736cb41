"""End to end on a real X display with a real system tray (Xvfb + trayer), driven by xdotool like a person.

The tray runs as its own process (`murmuration tray` inside tray_probe.py, which only reports what it sees).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from PySide6.QtGui import QImage

from tests.conftest import run_cli
from tests.tray.tray_process import TrayProcess, tray_environment
from tests.tray.waits import painted
from tests.xdisplay import act_until as shared_act_until
from tests.xdisplay import tray_display

from .conftest import SCREENSHOTS

TOOLS = ("Xvfb", "trayer", "xdotool", "xwininfo")
# Missing tools are a failed setup, never a skipped test: `make test` installs them.
assert all(shutil.which(tool) for tool in TOOLS), "needs Xvfb, trayer, xdotool and x11-utils (debian-packages.txt)"

TOP_MENU = [
    "New instance…",
    "No instances yet",
    "Show all instances…",
    "Start at login",
    "Show tray log",
    "About Murmuration",
    "Quit",
]


@pytest.fixture
def x_display() -> Iterator[str]:
    with tray_display() as display:
        yield display


def x(display: str, *command: str) -> str:
    """Run an X tool on `display` and return what it printed."""
    done = subprocess.run(
        command, env={**os.environ, "DISPLAY": display}, capture_output=True, text=True, timeout=30, check=True
    )
    return done.stdout


def act_until(
    tray: TrayProcess, display: str, xdotool: list[str], done: Callable[[dict[str, Any]], Any], what: str
) -> dict[str, Any]:
    """Do an xdotool gesture until the tray's own state shows its effect."""

    def effect() -> dict[str, Any] | None:
        state = tray.ask("state")
        return state if done(state) else None

    return shared_act_until(display, xdotool, effect, what)


def embedded(display: str) -> bool:
    """Whether a Murmuration window sits inside trayer's panel (the XEmbed dance is over)."""
    tree = x(display, "xwininfo", "-root", "-tree").splitlines()
    panel = next((n for n, line in enumerate(tree) if '"panel"' in line), None)
    return panel is not None and any('"Murmuration"' in line for line in tree[panel + 1 : panel + 8])


def centre(geometry: list[int]) -> tuple[int, int]:
    left, top, width, height = geometry
    return left + width // 2, top + height // 2


def ls() -> list[dict[str, Any]]:
    done = run_cli("ls", "--json")
    assert done.returncode == 0, done.stderr
    rows: list[dict[str, Any]] = json.loads(done.stdout)
    return rows


def servers_of(data_dir: str) -> list[int]:
    return [
        p.pid
        for p in psutil.process_iter(["cmdline", "status"])
        if "serve" in (p.info["cmdline"] or [])
        and data_dir in (p.info["cmdline"] or [])
        and p.info["status"] != psutil.STATUS_ZOMBIE
    ]


def test_the_real_tray_end_to_end(x_display: str, home: Path) -> None:
    env = tray_environment(x_display)
    tray = TrayProcess(env)
    try:
        # The icon goes into trayer's panel (top right); with a tray there, no window opens at start.
        deadline = time.monotonic() + 30
        while not embedded(x_display):
            assert time.monotonic() < deadline, "the icon never went into trayer's panel"
            time.sleep(0.05)
        # Until the panel has taken it in, the icon window sits at 0,0: wait for its place in the panel.
        state = tray.wait_for(
            lambda s: s["icon"] and s["icon"]["visible"] and s["icon"]["geometry"][0] > 640, what="the icon's place"
        )
        assert state["tray_available"] is True
        left, top, width, height = state["icon"]["geometry"]
        assert width > 0
        assert height > 0
        assert top < 32  # in the panel at the top edge
        assert state["icon"]["tooltip"] == "Murmuration — no instances yet"
        icon_x, icon_y = str(left + width // 2), str(top + height // 2)
        # A first run, with nothing to manage yet, opens the window (its empty list says what an instance is).
        state = tray.wait_for(lambda s: s["window"]["visible"], what="the first run's window")
        assert "Murmuration is in the tray" in [title for title, _ in state["notifications"]]
        main_window = x(x_display, "xdotool", "search", "--sync", "--onlyvisible", "--name", "Murmuration$").split()[0]
        close = ["windowfocus", "--sync", main_window, "key", "ctrl+shift+w"]
        act_until(tray, x_display, close, lambda s: not s["window"]["visible"], "the window closed")
        # A single left click on the icon shows the window again.
        left_click = ["mousemove", icon_x, icon_y, "click", "1"]
        act_until(tray, x_display, left_click, lambda s: s["window"]["visible"], "the window after a left click")
        main_window = x(x_display, "xdotool", "search", "--sync", "--onlyvisible", "--name", "Murmuration$").split()[0]
        close = ["windowfocus", "--sync", main_window, "key", "ctrl+shift+w"]
        act_until(tray, x_display, close, lambda s: not s["window"]["visible"], "the window closed again")

        # Right-click: the menu, with its entries.
        right_click = ["mousemove", icon_x, icon_y, "click", "3"]
        state = act_until(tray, x_display, right_click, lambda s: s["popup"], "the tray menu")
        assert state["popup"] == TOP_MENU

        # New instance… (the first entry) → the dialog, its name filled in → Enter.
        x(x_display, "xdotool", "key", "Down", "Return")
        state = tray.wait_for(lambda s: s["dialog"], what="the New instance dialog")
        assert state["dialog"]["name"] == "Instance 1"
        window_id = x(x_display, "xdotool", "search", "--sync", "--onlyvisible", "--name", "^New instance$").split()[0]
        x(x_display, "xdotool", "windowfocus", "--sync", window_id, "key", "Return")

        state = tray.wait_for(
            lambda s: (i := tray.instance(s, "Instance 1")) and i["state"] == "running", what="Instance 1 running"
        )
        first = tray.instance(state, "Instance 1")
        assert first is not None
        [row] = ls()
        assert row["name"] == "Instance 1"
        assert row["status"] == "running"
        assert row["pid"] == first["pid"]
        state = tray.wait_for(lambda s: s["window"]["shown"].get("instance-1") == "dashboard", what="its dashboard")
        assert state["window"]["current"] == "Instance 1"

        # Closing the window (Ctrl+Shift+W; Ctrl+W closes a tab) hides it; a double-click on the icon brings it
        # back, with its tabs.
        main_window = x(x_display, "xdotool", "search", "--onlyvisible", "--name", "Murmuration$").split()[0]
        close = ["windowfocus", "--sync", main_window, "key", "ctrl+shift+w"]
        act_until(tray, x_display, close, lambda s: not s["window"]["visible"], "the window closed")
        double_click = ["mousemove", icon_x, icon_y, "click", "--repeat", "2", "1"]
        state = act_until(tray, x_display, double_click, lambda s: s["window"]["visible"], "the window")
        assert state["window"]["tabs"] == ["Instances", "Instance 1"]

        # A double-click on the instance's row opens its tab, signed in to the dashboard.
        spot = tray.ask("row", instance="instance-1")
        row_click = ["mousemove", str(spot["x"]), str(spot["y"]), "click", "--repeat", "2", "1"]
        act_until(tray, x_display, row_click, lambda s: "Instance 1" in s["window"]["tabs"], "the instance's tab")
        tray.wait_for(lambda s: s["window"]["shown"].get("instance-1") == "dashboard", what="the tab's dashboard")
        # The dashboard titles itself "<view> · <name>" once its WebSocket told it the name; then read the DOM.
        tray.wait_for(lambda s: s["window"]["titles"]["instance-1"].endswith("· Instance 1"), what="the title")
        script = "document.getElementById('instance-name').textContent"
        assert tray.ask("js", instance="instance-1", script=script)["result"] == "Instance 1"
        assert tray.ask("js", instance="instance-1", script="document.body.className")["result"] != "signin"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shots = {"window": str(SCREENSHOTS / "xvfb_main_window.png"), "screen": str(SCREENSHOTS / "xvfb_screen.png")}
        deadline = time.monotonic() + 30
        while True:  # the web view composits on its own schedule: shoot until the page is on the screen
            assert tray.ask("grab", **shots)["ok"]
            screen = QImage(shots["screen"])
            if painted(screen.copy(0, 100, 1000, 500)) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert painted(screen.copy(0, 100, 1000, 500)), "the dashboard never appeared on the screen"

        # kill -9 the instance: the tray shows the crash and brings it back.
        os.kill(first["pid"], signal.SIGKILL)
        tray.wait_for(
            lambda s: s["icon"]["state"] == "trouble" or any(t == "Instance 1 crashed" for t, _ in s["notifications"]),
            what="the crash shown",
        )
        state = tray.wait_for(
            lambda s: (
                (i := tray.instance(s, "Instance 1"))
                and i["state"] == "running"
                and i["pid"] != first["pid"]
                and s["icon"]["state"] == "ok"
            ),
            what="Instance 1 back",
        )
        second = tray.instance(state, "Instance 1")
        assert second is not None
        assert ls()[0]["pid"] == second["pid"]

        # kill -9 the tray: the instance goes on.
        tray.kill()
        assert ls()[0]["status"] == "running"
        assert ls()[0]["pid"] == second["pid"]

        # Start the tray again: it adopts the running instance instead of starting another.
        tray = TrayProcess(env)
        state = tray.wait_for(
            lambda s: (i := tray.instance(s, "Instance 1")) and i["state"] == "running", what="the adoption"
        )
        adopted = tray.instance(state, "Instance 1")
        assert adopted is not None
        assert adopted["pid"] == second["pid"]
        assert servers_of(ls()[0]["data_dir"]) == [second["pid"]]

        # A second `murmuration`: the first tray raises its window, the second exits 0.
        tray.wait_for(lambda s: s["icon"] and s["icon"]["visible"], what="the icon again")
        assert tray.ask("state")["window"]["visible"] is False
        again = subprocess.run([sys.executable, "-m", "murmuration"], env=env, capture_output=True, timeout=60)
        assert again.returncode == 0, again.stderr
        tray.wait_for(lambda s: s["window"]["visible"], what="the first tray's window")
        assert x(x_display, "xdotool", "search", "--onlyvisible", "--name", "Murmuration$").split()
    finally:
        tray.end()
