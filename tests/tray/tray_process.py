"""A real tray process under test: started through tray_probe.py, questioned over its control line, ended."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PROBE = Path(__file__).with_name("tray_probe.py")


def tray_environment(display: str | None = None) -> dict[str, str]:
    """The environment of a tray under test: this test's home, a display (or offscreen), no session bus."""
    env = dict(os.environ)
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)  # no bus: Qt uses the XEmbed tray (trayer), not StatusNotifier
    env["QTWEBENGINE_DISABLE_SANDBOX"] = "1"
    env["QTWEBENGINE_CHROMIUM_FLAGS"] = "--no-sandbox --disable-gpu"
    if display is None:
        env["QT_QPA_PLATFORM"] = "offscreen"
    else:
        env["QT_QPA_PLATFORM"] = "xcb"
        env["DISPLAY"] = display
    return env


class TrayProcess:
    """One `murmuration tray` process with a probe inside."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(PROBE), "tray", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        self._lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self._ids = 0
        threading.Thread(target=self._read, daemon=True).start()
        started = self._next(lambda m: m.get("event") == "started", 60)
        self.pid = int(started["pid"])

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with contextlib.suppress(ValueError):
                self._lines.put(json.loads(line))

    def _next(self, wanted: Callable[[dict[str, Any]], bool], timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the tray did not answer")
            try:
                message = self._lines.get(timeout=left)
            except queue.Empty:
                raise TimeoutError(f"the tray did not answer (exit code {self.proc.poll()})") from None
            if wanted(message):
                return message

    def ask(self, cmd: str, timeout: float = 30.0, **params: Any) -> dict[str, Any]:
        """Send one question and wait for its answer."""
        assert self.proc.stdin is not None
        self._ids += 1
        ident = self._ids
        self.proc.stdin.write((json.dumps({"id": ident, "cmd": cmd, **params}) + "\n").encode())
        self.proc.stdin.flush()
        answer = self._next(lambda m: m.get("id") == ident, timeout)
        if "error" in answer:
            raise AssertionError(f"the probe failed: {answer['error']}")
        return answer

    def wait_for(
        self, condition: Callable[[dict[str, Any]], Any], timeout: float = 60.0, what: str = ""
    ) -> dict[str, Any]:
        """The state once `condition(state)` is true (asked again and again: no signal crosses the process)."""
        deadline = time.monotonic() + timeout
        state: dict[str, Any] = {}
        while time.monotonic() < deadline:
            state = self.ask("state")
            if condition(state):
                return state
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what or condition}; last state: {state}")

    def instance(self, state: dict[str, Any], name: str) -> dict[str, Any] | None:
        return next((i for i in state["instances"] if i["name"] == name), None)

    def kill(self) -> None:
        """kill -9: the tray dies at once, cleaning up nothing."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def end(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
