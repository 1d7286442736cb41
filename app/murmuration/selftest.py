"""`murmuration --self-test`: prove that this installation works, end to end, with nobody at the screen.

It starts a throwaway instance in a temporary `MURMURATION_HOME` as a separate `serve` process (frozen: this very
executable), signs a QWebEngineView in to its dashboard with a one-time code, checks through the DOM that the page
signed in and shows the instance's name, stops the instance and prints one line. Every frozen build runs it before
it is shipped (packaging/build.py, .github/workflows/release.yml).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from murmuration import __version__, registry
from murmuration.client import InstanceUnavailable, RpcError
from murmuration.control import StartFailed, login_url, start_instance, stop_instance
from murmuration.datafolder import DataFolder
from murmuration.home import HOME_ENV

TIMEOUT_ENV = "MURMURATION_SELF_TEST_TIMEOUT"
DEFAULT_TIMEOUT = 120.0  # seconds for all of it: a cold WebEngine on a slow CI runner takes a while
STOP_GRACE = 15.0  # the backstop fires this long after the deadline, when the normal paths could not end it
POLL_MS = 100

# Read in the page; answers what a person would see. The name counts in #instance-name or in the title,
# so the check survives a redesigned dashboard that keeps either.
PROBE = """(() => {
  const named = document.getElementById("instance-name");
  const body = document.body;
  return JSON.stringify({
    path: location.pathname,
    ready: document.readyState,
    signin: body ? body.classList.contains("signin") : false,
    session: (() => { try { return !!localStorage.getItem("murmuration.session"); } catch { return false; } })(),
    query: location.search,
    name: named ? named.textContent.trim() : null,
    title: document.title,
    connection: body ? body.dataset.connection || null : null,
  });
})()"""


class SelfTestFailed(Exception):
    """A step of the self-test failed; the message is the one line the user sees."""


@dataclass
class Report:
    """What the self-test measured, in seconds, and the settings it chose by itself."""

    notes: list[str] = field(default_factory=list)
    started: float = 0.0
    dashboard: float = 0.0
    stopped: float = 0.0
    total: float = 0.0

    def line(self, name: str) -> str:
        how = ", ".join(["frozen" if getattr(sys, "frozen", False) else "from source", *self.notes])
        return (
            f"self-test ok: murmuration {__version__} ({how}): instance started in {self.started:.2f} s, "
            f"dashboard signed in and showing {name!r} in {self.dashboard:.2f} s, stopped in {self.stopped:.2f} s; "
            f"{self.total:.2f} s in all"
        )


def headless_defaults(environ: dict[str, str] | os._Environ[str] = os.environ) -> list[str]:
    """Set what QtWebEngine needs with no display or as root, unless already set; the notes say what was set."""
    notes: list[str] = []
    flags: list[str] = []
    desktop = sys.platform in ("darwin", "win32")
    display = environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY")
    if not desktop and not display and "QT_QPA_PLATFORM" not in environ:
        environ["QT_QPA_PLATFORM"] = "offscreen"
        notes.append("no display: QT_QPA_PLATFORM=offscreen")
    if environ.get("QT_QPA_PLATFORM") == "offscreen":
        flags.append("--disable-gpu")
    sandbox_off_already = "QTWEBENGINE_DISABLE_SANDBOX" in environ  # even empty: Qt only asks whether it is set
    if not desktop and hasattr(os, "geteuid") and os.geteuid() == 0:
        # Chromium will not sandbox its renderers as root.
        if not sandbox_off_already:
            environ["QTWEBENGINE_DISABLE_SANDBOX"] = "1"
            notes.append("root: WebEngine sandbox off")
        flags.insert(0, "--no-sandbox")
    if sandbox_off_already:
        notes.append("WebEngine sandbox off: QTWEBENGINE_DISABLE_SANDBOX is set")
    if flags and "QTWEBENGINE_CHROMIUM_FLAGS" not in environ:
        environ["QTWEBENGINE_CHROMIUM_FLAGS"] = " ".join(flags)
        notes.append(f"QTWEBENGINE_CHROMIUM_FLAGS={' '.join(flags)!r}")
    return notes


def timeout_setting(environ: dict[str, str] | os._Environ[str] = os.environ) -> float:
    """The bound on the whole self-test: MURMURATION_SELF_TEST_TIMEOUT seconds, else DEFAULT_TIMEOUT."""
    text = environ.get(TIMEOUT_ENV, "")
    try:
        value = float(text) if text else DEFAULT_TIMEOUT
    except ValueError:
        raise SelfTestFailed(f"{TIMEOUT_ENV}={text!r} is not a number of seconds.") from None
    if not 0 < value < float("inf"):
        raise SelfTestFailed(f"{TIMEOUT_ENV}={text!r} must be a positive number of seconds.")
    return value


class Backstop:
    """Ends the self-test, and the instance it started, if the normal paths cannot (a hung WebEngine, say)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.server_pid: int | None = None
        self._timer = threading.Timer(timeout + STOP_GRACE, self._fire)
        self._timer.daemon = True

    def __enter__(self) -> Backstop:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    def _fire(self) -> None:
        if self.server_pid is not None:
            with contextlib.suppress(psutil.Error):
                psutil.Process(self.server_pid).kill()
        sys.stderr.write(f"self-test failed: it did not finish within its {self.timeout:.0f} s.\n")
        sys.stderr.flush()
        os._exit(1)


class Deadline:
    """The time left of the self-test's budget."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def left(self, floor: float = 0.5) -> float:
        return max(floor, self.at - time.monotonic())


def main(args: argparse.Namespace | None = None) -> int:
    """Run the self-test; print one line and return 0, or print the reason and return 1."""
    began = time.monotonic()
    report = Report()
    try:
        seconds = timeout_setting()
        report.notes = headless_defaults()
        with Backstop(seconds) as backstop:
            name = run(Deadline(seconds), report, backstop)
    except SelfTestFailed as exc:
        print(f"self-test failed: {one_line(str(exc))}", file=sys.stderr)
        return 1
    except Exception as exc:
        print(f"self-test failed: {type(exc).__name__}: {one_line(str(exc))}", file=sys.stderr)
        return 1
    report.total = time.monotonic() - began
    print(report.line(name), flush=True)
    return 0


def one_line(text: str) -> str:
    return " ".join(text.split())


def run(deadline: Deadline, report: Report, backstop: Backstop) -> str:
    """Start, check and stop a throwaway instance; the instance's name on success."""
    with tempfile.TemporaryDirectory(prefix="murmuration-self-test-", ignore_cleanup_errors=True) as tmp:
        home = Path(tmp)
        os.environ[HOME_ENV] = str(home)  # the server started below inherits it
        name = f"Self-test {secrets.token_hex(3)}"  # a name the page cannot show by chance
        folder = registry.create(name, home)
        mark = time.monotonic()
        try:
            started = start_instance(folder, timeout=deadline.left())
        except StartFailed as exc:
            raise SelfTestFailed(f"the instance did not start: {exc}") from None
        backstop.server_pid = int(started.ready["pid"])
        report.started = time.monotonic() - mark
        failure: SelfTestFailed | None = None
        try:
            mark = time.monotonic()
            login_url = sign_in_link(folder, deadline)
            check_dashboard(login_url, name, deadline)
            report.dashboard = time.monotonic() - mark
        except SelfTestFailed as exc:
            failure = exc
        except Exception as exc:  # a broken build fails in any way: report it, and still stop the instance
            failure = SelfTestFailed(f"{type(exc).__name__}: {exc}")
        mark = time.monotonic()
        was_running = stop_instance(folder, timeout=min(10.0, deadline.left(2.0)))
        report.stopped = time.monotonic() - mark
        if failure is not None:
            raise failure
        if not was_running:
            raise SelfTestFailed("the instance had stopped by itself before the self-test stopped it.")
        if _alive(backstop.server_pid):
            raise SelfTestFailed(f"the instance's server (pid {backstop.server_pid}) is still running after stop.")
        backstop.server_pid = None
    return name


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def sign_in_link(folder: DataFolder, deadline: Deadline) -> str:
    """A one-time sign-in link from the running instance, asked for as the tray asks."""

    runtime = folder.read_runtime()
    if runtime is None:
        raise SelfTestFailed("the instance wrote no runtime.json, so it cannot be asked for a sign-in code.")
    try:
        return asyncio.run(asyncio.wait_for(login_url(runtime, timeout=deadline.left()), deadline.left()))
    except (InstanceUnavailable, RpcError, OSError, TimeoutError, KeyError) as exc:
        raise SelfTestFailed(f"the instance gave no sign-in code: {exc or type(exc).__name__}") from None


def check_dashboard(login_url: str, name: str, deadline: Deadline) -> None:
    """Load `login_url` in a QWebEngineView and wait until the page is signed in and shows `name`."""
    # Imported here: only the self-test and the tray load Qt.
    from PySide6.QtCore import QCoreApplication, QEventLoop, Qt, QTimer, QUrl, qInstallMessageHandler
    from PySide6.QtWebEngineCore import QWebEnginePage, QWebEngineProfile
    from PySide6.QtWebEngineWidgets import QWebEngineView
    from PySide6.QtWidgets import QApplication

    qt_messages: list[str] = []
    qInstallMessageHandler(lambda _kind, _context, message: qt_messages.append(message))
    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
    app = QApplication.instance() or QApplication([sys.argv[0] or "murmuration"])

    script_errors: list[str] = []

    class ProbedPage(QWebEnginePage):
        def javaScriptConsoleMessage(  # Qt's name
            self, level: QWebEnginePage.JavaScriptConsoleMessageLevel, message: str, line: int, source: str
        ) -> None:
            if level == QWebEnginePage.JavaScriptConsoleMessageLevel.ErrorMessageLevel:
                script_errors.append(f"{message} ({source}:{line})")

    profile = QWebEngineProfile()  # no storage name: off the record, nothing written to disk
    page = ProbedPage(profile)
    view = QWebEngineView()
    view.setPage(page)
    view.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen)  # rendered, never on a screen
    view.resize(1024, 720)
    view.show()

    loop = QEventLoop()
    outcome: dict[str, Any] = {}
    last: dict[str, Any] = {}

    def finish(**result: Any) -> None:
        if not outcome:
            outcome.update(result)
            loop.quit()

    def read(value: object) -> None:
        try:
            state = json.loads(value) if isinstance(value, str) else {}
        except ValueError:
            state = {}
        last.update(state)
        shown = (state.get("name") or "") + "\n" + (state.get("title") or "")
        if state.get("signin") and state.get("ready") == "complete":
            finish(error="the dashboard showed its sign-in notice: the one-time code was refused")
        elif state.get("path") == "/" and not state.get("query") and state.get("session") and name in shown:
            # Signed in as a browser is: the code traded for a session in the page's storage, the address clean.
            finish(ok=True)

    def loaded(ok: bool) -> None:
        if not ok:
            finish(error=f"the dashboard did not load from {page.url().toString() or login_url}")

    poll = QTimer()
    poll.setInterval(POLL_MS)
    poll.timeout.connect(lambda: page.runJavaScript(PROBE, 0, read))
    page.loadFinished.connect(loaded)
    QTimer.singleShot(int(deadline.left() * 1000), lambda: finish(error="timeout"))
    poll.start()
    page.load(QUrl(login_url))
    loop.exec()
    poll.stop()

    # Pages before their profile, or WebEngine warns about a profile released while in use.
    view.close()
    _delete_later(view, page, profile, app=app)

    if outcome.get("ok"):
        return
    error = str(outcome.get("error", "unknown"))
    if error == "timeout":
        error = (
            f"the dashboard did not show {name!r} in time (page {last.get('path')!r}, "
            f"title {last.get('title')!r}, connection {last.get('connection')!r})"
        )
    if script_errors:
        error += f"; last script error: {script_errors[-1]}"
    elif qt_messages and not last:
        error += f"; last Qt message: {qt_messages[-1]}"
    raise SelfTestFailed(error + ".")


def _delete_later(*objects: Any, app: Any) -> None:
    """Delete Qt objects in this order and let their deletion run before going on."""
    from PySide6.QtCore import QCoreApplication, QEvent

    for item in objects:
        item.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        app.processEvents()
