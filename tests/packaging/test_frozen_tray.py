"""The frozen tray on a real X display with a real system tray (Xvfb + trayer), driven from outside by xdotool.

Nothing of the test runs inside the frozen program: it is started as a person would start it, and the test sees
only what the display and the frozen command line show.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.packaging.conftest import FROZEN_TIMEOUT, Bundle, headless_environment
from tests.waiting import until
from tests.xdisplay import act_until, end, tray_display

TOOLS = ("Xvfb", "trayer", "xdotool", "xwininfo", "xprop")
pytestmark = [
    pytest.mark.timeout(FROZEN_TIMEOUT),
    pytest.mark.skipif(
        any(shutil.which(tool) is None for tool in TOOLS),
        reason="needs Xvfb, trayer, xdotool and x11-utils (packaging/debian-packages.txt)",
    ),
]


def x(display: str, *command: str) -> str:
    done = subprocess.run(
        command, env={**os.environ, "DISPLAY": display}, capture_output=True, text=True, timeout=30, check=False
    )
    return done.stdout


@pytest.fixture
def x_display() -> Iterator[str]:
    with tray_display() as display:
        yield display


def tray_icon(display: str) -> tuple[int, int] | None:
    """The centre of the Murmuration icon inside trayer's panel, once the panel has placed it."""
    tree = x(display, "xwininfo", "-root", "-tree").splitlines()
    panel = next((n for n, line in enumerate(tree) if '"panel"' in line), None)
    if panel is None:
        return None
    for line in tree[panel + 1 : panel + 8]:
        # e.g.  0x600007 "Murmuration": ("murmuration" "Murmuration")  22x30+0+0  +1257+1
        found = re.search(r'"Murmuration": .*\s(\d+)x(\d+)[+-]\d+[+-]\d+\s+\+(\d+)\+(\d+)', line)
        if found:
            width, height, left, top = map(int, found.groups())
            if left > 640:  # until the panel has taken it in, the icon sits at 0,0
                return left + width // 2, top + height // 2
    return None


def window_named(display: str, name: str) -> str | None:
    """A visible window titled exactly `name`."""
    ids = x(display, "xdotool", "search", "--onlyvisible", "--name", f"^{re.escape(name)}$").split()
    return ids[0] if ids else None


def popup_menu(display: str) -> str | None:
    """The program's popup menu, when one is on the screen (a window of its class, of the popup-menu type)."""
    for window in x(display, "xdotool", "search", "--onlyvisible", "--class", "murmuration").split():
        if "_NET_WM_WINDOW_TYPE_POPUP_MENU" in x(display, "xprop", "-id", window, "_NET_WM_WINDOW_TYPE"):
            return window
    return None


def frozen_ls(bundle: Bundle, env: dict[str, str]) -> list[dict[str, Any]]:
    done = subprocess.run(
        [str(bundle.executable), "ls", "--json"], capture_output=True, text=True, timeout=60, env=env, check=True
    )
    rows: list[dict[str, Any]] = json.loads(done.stdout)
    return rows


def test_the_frozen_tray_creates_an_instance_from_its_menu(bundle: Bundle, x_display: str, tmp_path: Path) -> None:
    env = headless_environment(DISPLAY=x_display, QT_QPA_PLATFORM="xcb", TMPDIR=str(tmp_path))
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)  # no session bus: Qt docks its icon in trayer (XEmbed)
    started = time.monotonic()
    tray = subprocess.Popen(
        [str(bundle.executable)], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        icon_x, icon_y = until(
            lambda: tray.poll() is None and tray_icon(x_display), "the tray icon in trayer", timeout=60, every=0.1
        )
        assert time.monotonic() - started < 30, "cold start to the icon in the tray"

        # Right-click the icon: its menu; the menu's first entry (New instance…): the dialog. Each gesture waits
        # for what it shows before the next, as a person would on a slow machine.
        right_click = ["mousemove", str(icon_x), str(icon_y), "click", "3"]
        act_until(x_display, right_click, lambda: popup_menu(x_display), "the tray menu")
        dialog = act_until(
            x_display,
            ["key", "Down", "Return"],
            lambda: window_named(x_display, "New instance"),
            "the New instance dialog",
            tries=1,
        )
        enter = ["windowfocus", "--sync", dialog, "key", "Return"]  # the name it suggests
        act_until(x_display, enter, lambda: window_named(x_display, "New instance") is None, "the dialog to close")

        def running() -> dict[str, Any] | None:
            rows = [r for r in frozen_ls(bundle, env) if r["status"] == "running"]
            return rows[0] if rows else None

        row = until(running, "a running instance", timeout=60, every=0.1)
        assert len(frozen_ls(bundle, env)) == 1
        server = psutil.Process(row["pid"])
        # The tray started it by re-launching the frozen executable, not a Python of this machine.
        assert Path(server.exe()).resolve() == bundle.executable.resolve()
        assert server.cmdline()[:2] == [str(bundle.executable), "serve"]
        assert tray.poll() is None, "the tray exited"
    finally:
        if tray.poll() is None:
            tray.send_signal(signal.SIGTERM)
        end(tray)
        for row in frozen_ls(bundle, env):
            if row["status"] == "running":
                subprocess.run([str(bundle.executable), "stop", row["id"]], env=env, timeout=60, check=False)
