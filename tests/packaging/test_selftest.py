"""`murmuration --version` and `--self-test` from the source install: a real instance, a real QWebEngineView."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from murmuration import __version__
from murmuration.selftest import headless_defaults, timeout_setting
from tests.packaging.conftest import headless_environment

SELF_TEST_TIMEOUT = 180


def murmuration(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "murmuration", *args],
        capture_output=True,
        text=True,
        timeout=SELF_TEST_TIMEOUT,
        stdin=subprocess.DEVNULL,
        env=env,
    )


def test_version_prints_the_version() -> None:
    result = murmuration("--version", env=headless_environment())
    assert result.returncode == 0
    assert result.stdout == f"murmuration {__version__}\n"


def test_the_version_and_the_parser_load_no_qt() -> None:
    # `--self-test` and the tray import Qt only when they run: the CLI, the server and the bridge never do.
    code = (
        "import sys; from murmuration.cli.main import build_parser; build_parser().parse_args(['--self-test']); "
        "print(sorted(m for m in sys.modules if m.startswith(('PySide6', 'shiboken6', 'murmuration.selftest'))))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"


def test_self_test_starts_an_instance_signs_in_to_its_dashboard_and_stops_it(scratch: Path) -> None:
    result = murmuration("--self-test", env=headless_environment(TMPDIR=str(scratch)))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    line = lines[0]
    assert line.startswith(f"self-test ok: murmuration {__version__} (from source")
    # With no display it chose offscreen by itself, and said so.
    assert "QT_QPA_PLATFORM=offscreen" in line
    assert "dashboard signed in and showing 'Self-test " in line
    # Its throwaway home is gone, and with it the instance (the scratch fixture checks no server is left).
    assert list(scratch.iterdir()) == []


def test_self_test_fails_with_the_reason_on_one_line_when_the_instance_cannot_start(scratch: Path) -> None:
    env = headless_environment(TMPDIR=str(scratch), MURMURATION_PORT_RANGE="not-a-range")
    result = murmuration("--self-test", env=env)
    assert result.returncode == 1
    assert result.stdout == ""
    failure = [line for line in result.stderr.splitlines() if line.startswith("self-test failed:")]
    assert len(failure) == 1, result.stderr
    assert failure[0].startswith("self-test failed: the instance did not start: ")
    assert "MURMURATION_PORT_RANGE" in failure[0]


def test_self_test_takes_no_command() -> None:
    result = murmuration("--self-test", "ls", env=headless_environment())
    assert result.returncode == 1
    assert "--self-test takes no command" in result.stderr


def test_headless_defaults_set_offscreen_and_no_sandbox_only_where_unset() -> None:
    env: dict[str, str] = {}
    notes = headless_defaults(env)
    if sys.platform.startswith("linux"):
        assert env["QT_QPA_PLATFORM"] == "offscreen"
        assert "--disable-gpu" in env["QTWEBENGINE_CHROMIUM_FLAGS"]
        assert any("offscreen" in note for note in notes)
        if os.geteuid() == 0:  # Chromium will not sandbox as root
            assert env["QTWEBENGINE_DISABLE_SANDBOX"] == "1"
            assert env["QTWEBENGINE_CHROMIUM_FLAGS"] == "--no-sandbox --disable-gpu"
    chosen = {"DISPLAY": ":99", "QT_QPA_PLATFORM": "xcb", "QTWEBENGINE_CHROMIUM_FLAGS": "--mine"}
    env = dict(chosen)
    headless_defaults(env)
    assert {k: env[k] for k in chosen} == chosen  # what the user set stays


def test_the_timeout_comes_from_the_environment() -> None:
    assert timeout_setting({"MURMURATION_SELF_TEST_TIMEOUT": "42"}) == 42.0
    assert timeout_setting({}) > 0


def test_the_line_says_when_the_environment_turned_the_sandbox_off() -> None:
    # The macOS release build checks its line for this: an empty value turns the sandbox off as well.
    env = {"DISPLAY": ":99", "QTWEBENGINE_DISABLE_SANDBOX": ""}
    assert "WebEngine sandbox off: QTWEBENGINE_DISABLE_SANDBOX is set" in headless_defaults(env)
    notes = headless_defaults({"DISPLAY": ":99"})
    assert not any("sandbox off" in note for note in notes) or os.geteuid() == 0  # root turns it off, and says so
