"""A virtual X display with a real system tray (Xvfb + trayer), for the tests that click a tray icon."""

from __future__ import annotations

import os
import select
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from tests.waiting import until

T = TypeVar("T")


def run_x(display: str, *command: str, check: bool = True) -> str:
    """Run an X tool on `display` and return what it printed."""
    done = subprocess.run(
        command, env={**os.environ, "DISPLAY": display}, capture_output=True, text=True, timeout=30, check=check
    )
    return done.stdout


def act_until(display: str, gesture: list[str], effect: Callable[[], T], what: str, *, tries: int = 5) -> T:
    """Make an xdotool `gesture` until `effect()` shows it took: an X server gives no delivery receipt, and a
    gesture made before the program is ready is lost (a person whose click was lost clicks again too). Each try
    waits for the effect before the next gesture, since a second click could undo a slow first one."""
    for _ in range(tries - 1):
        run_x(display, "xdotool", *gesture)
        try:
            return until(effect, what, timeout=8)
        except AssertionError:
            continue
    run_x(display, "xdotool", *gesture)
    return until(effect, what, timeout=8)


def end(process: subprocess.Popen[Any] | None) -> None:
    """TERM a helper process, then KILL it if it lingers."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def tray_display() -> Iterator[str]:
    """A fresh X display with `trayer` as its system tray; both are ended afterwards."""
    read_end, write_end = os.pipe()
    # -displayfd: Xvfb picks a free display number itself and writes it to us, so parallel tests never collide.
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1280x800x24", "-nolisten", "tcp", "-noreset"],
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    trayer = None
    try:
        number = b""
        while not number.endswith(b"\n"):
            ready, _, _ = select.select([read_end], [], [], 30)
            chunk = os.read(read_end, 16) if ready else b""
            if not chunk:
                raise RuntimeError("Xvfb did not start")
            number += chunk
        display = f":{int(number)}"
        trayer = subprocess.Popen(
            [
                *("trayer", "--edge", "top", "--align", "right", "--widthtype", "request", "--height", "32"),
                *("--expand", "true", "--transparent", "false", "--SetDockType", "true"),
            ],
            env={**os.environ, "DISPLAY": display},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while '"panel"' not in run_x(display, "xwininfo", "-root", "-tree", check=False):
            if time.monotonic() > deadline:
                raise RuntimeError("trayer did not show its panel")
            time.sleep(0.05)
        yield display
    finally:
        end(trayer)
        end(xvfb)
        os.close(read_end)
