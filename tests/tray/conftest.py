"""Tray tests: Qt offscreen, asyncio inside Qt's loop (qasync), a fresh home and no real browser or login item."""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import qasync  # type: ignore[import-untyped]
from PySide6.QtCore import QCoreApplication, Qt, QUrl
from PySide6.QtWidgets import QApplication

from murmuration import registry
from murmuration.control import stop_instance
from murmuration.tray import desktop
from murmuration.tray.controller import Tray
from murmuration.tray.model import InstanceModel
from murmuration.tray.supervisor import RestartPolicy

# QtWebEngine (loaded by the first dashboard tab) needs this before the QApplication exists.
QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)

# Screenshots a person looks at before calling tray work done (git-ignored).
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-results" / "tray"
FAST_POLL = 0.2
FAST_POLICY = RestartPolicy(first_delay=0.05, max_delay=0.4, loop_crashes=5, loop_window=60.0)

_app: list[QApplication] = []
# Every test's event loop, kept alive: a loop collected later by a worker thread would stop its Qt timers there.
_loops: list[object] = []


def application() -> QApplication:
    """The one QApplication of this test process, headless (pytest-qt's qapp fixture finds and reuses it)."""
    app = QApplication.instance()
    if app is None:
        # Qt reads the platform once, here; the variable is not left behind for other tests' child processes.
        before = os.environ.get("QT_QPA_PLATFORM")
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        try:
            app = QApplication(["murmuration-tests"])
        finally:
            if before is None:
                del os.environ["QT_QPA_PLATFORM"]
            else:
                os.environ["QT_QPA_PLATFORM"] = before
        _app.append(app)
    assert isinstance(app, QApplication)
    app.setQuitOnLastWindowClosed(False)
    return app


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Callable[[], object]]:
    """Async tests here run on qasync's loop, inside Qt's event loop, as the tray does."""
    return {"qasync": new_loop}


def new_loop() -> object:
    loop = qasync.QEventLoop(application())
    _loops.append(loop)
    return loop


@pytest.fixture(autouse=True)
def collect_qt_garbage() -> Iterator[None]:
    """Collect each test's Python-owned Qt objects here, in the GUI thread, not later in some worker thread."""
    yield
    gc.collect()


@pytest.fixture(autouse=True)
def headless_web_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """QtWebEngine without a sandbox (tests may run as root) or a GPU; read when it first starts in a process."""
    monkeypatch.setenv("QTWEBENGINE_DISABLE_SANDBOX", "1")
    monkeypatch.setenv("QTWEBENGINE_CHROMIUM_FLAGS", "--no-sandbox --disable-gpu")


@pytest.fixture(autouse=True)
def desktop_handlers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    """URLs the tray asked the desktop to open; no test ever starts a real browser or file manager."""
    opened: list[str] = []

    def open_url(url: QUrl) -> bool:
        opened.append(url.toString())
        return True

    async def launch(url: QUrl) -> str | None:
        opened.append(url.toString())
        return None

    monkeypatch.setattr(desktop, "open_url", open_url)
    monkeypatch.setattr(desktop, "launch", launch)
    # Start at login writes here, never into the real ~/.config.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return opened


@pytest.fixture(autouse=True)
def stop_leftover_instances(home: Path) -> Iterator[None]:
    """Every test ends what it started: any instance still running in this home is stopped afterwards."""
    yield
    for folder in registry.managed_folders():
        stop_instance(folder, timeout=5)


@pytest.fixture
async def model() -> AsyncIterator[InstanceModel]:
    """An InstanceModel on this test's loop, closed afterwards (instances are stopped by the autouse fixture)."""
    application()
    instance_model = InstanceModel()
    try:
        yield instance_model
    finally:
        await instance_model.close()


@contextlib.asynccontextmanager
async def running_tray(policy: RestartPolicy = FAST_POLICY, warm_up: bool = False) -> AsyncIterator[Tray]:
    """The whole app as `murmuration` builds it, without a system tray (offscreen has none), closed afterwards."""
    application()
    app = Tray(tray_available=False, policy=policy, poll_interval=FAST_POLL, warm_up=warm_up)
    try:
        yield app
    finally:
        await app.close()
        app.window.deleteLater()
        app.deleteLater()


@pytest.fixture
async def tray() -> AsyncIterator[Tray]:
    """The whole app, restarting crashed instances fast; no web engine warm-up (each test opens its own tabs)."""
    async with running_tray() as app:
        yield app
