"""The frozen bundle, built once per test session (and shared by pytest-xdist's workers), into a temporary folder.

Building takes a minute or more on this machine, so the frozen tests are few and all share one build. When the build
fails, each of them fails with its output instead of building again.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from tests.packaging.frozen_build import build

ROOT = Path(__file__).resolve().parent.parent.parent
FROZEN_TIMEOUT = 3600  # per test: the first one to ask for the bundle waits for the build


@dataclass(frozen=True)
class Bundle:
    """A built one-folder bundle and what building it printed."""

    dist: Path
    folder: Path
    executable: Path
    output: str
    seconds: float


def shared_folder(factory: pytest.TempPathFactory) -> Path:
    """This session's temporary folder, the same for every xdist worker of the session."""
    base = factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def start_frozen_build(factory: pytest.TempPathFactory) -> subprocess.Popen[bytes] | None:
    """Start building the bundle in the background, once per session, and return the build (None if started already).

    The build holds build.lock until it has written build.json, so `bundle` waits on the lock, not by polling. The
    session starts it first thing (tests/conftest.py) and runs the frozen tests last, so the minutes PyInstaller and
    xz take overlap the rest of the suite instead of following it.
    """
    place = shared_folder(factory) / "frozen-bundle"
    place.mkdir(exist_ok=True)
    with open(place / "build.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None  # another worker's build holds it
        if (place / "build.json").exists() or (place / "started").exists():
            return None
        (place / "started").touch()
        # The child inherits the locked file: the lock is released when the build has recorded its outcome and exits.
        command = [sys.executable, str(Path(__file__).with_name("frozen_build.py")), str(place)]
        return subprocess.Popen(command, pass_fds=(lock.fileno(),), stdin=subprocess.DEVNULL, cwd=ROOT)


@pytest.fixture(scope="session")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    """The bundle for this OS, built by packaging/build.py (without its self-test: the tests run that).

    It is built on a cp1252 console under LANG=C, as a Windows runner's is: a build that prints a character such a
    console cannot show fails here (its stdout and stderr are kept in `output` and the failure message).
    """
    if not sys.platform.startswith("linux"):
        pytest.skip("the frozen tests run on Linux; the release workflow builds and self-tests macOS and Windows")
    place = shared_folder(tmp_path_factory) / "frozen-bundle"
    place.mkdir(exist_ok=True)
    record = place / "build.json"
    with open(place / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the background build holds it until it has written build.json
        if not record.exists():  # this test runs without a session that started the build (or that build died)
            record.write_text(json.dumps(build(place)))
        outcome = json.loads(record.read_text())
    if outcome["code"] != 0:
        pytest.fail(f"packaging/build.py failed (exit {outcome['code']}):\n{outcome['stderr'][-4000:]}")
    dist = place / "dist"
    folder = dist / "murmuration"
    return Bundle(dist, folder, folder / "murmuration", outcome["stdout"], outcome["seconds"])


def headless_environment(**extra: str) -> dict[str, str]:
    """The test's environment without a display, as on CI: the frozen program must cope by itself."""
    unset = (
        "DISPLAY",
        "WAYLAND_DISPLAY",
        "QT_QPA_PLATFORM",
        "QTWEBENGINE_CHROMIUM_FLAGS",
        "QTWEBENGINE_DISABLE_SANDBOX",
    )
    env = {k: v for k, v in os.environ.items() if k not in unset}
    return {**env, **extra}


def servers_under(folder: Path) -> list[psutil.Process]:
    """The `serve` processes whose data folder is under `folder`."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if "serve" in cmdline and any(str(folder) in part for part in cmdline):
            found.append(process)
    return found


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[Path]:
    """A TMPDIR for a self-test run; afterwards no server with its data there may still run."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    yield folder
    left = servers_under(folder)
    for process in left:
        process.kill()
    assert not left, f"servers left running: {[p.info['cmdline'] for p in left]}"
