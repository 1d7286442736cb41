"""One tray per session: a second launch hands its arguments to the first (two real processes) and exits 0."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from murmuration import registry
from murmuration.tray.single_instance import parse_message, server_name
from tests.tray.tray_process import TrayProcess, tray_environment


def test_a_second_launch_hands_its_arguments_to_the_first_and_exits_0(home: Path) -> None:
    registry.create("Alpha", home)
    env = tray_environment()
    first = TrayProcess(env)
    try:
        state = first.wait_for(lambda s: s["instances"], what="the first scan")
        assert state["window"]["visible"]  # offscreen has no tray: the window is the app
        assert state["window"]["tabs"] == ["Instances"]

        started = time.monotonic()
        second = launch(env, "tray", "--open", "Alpha")
        assert second.returncode == 0, second.stderr
        assert time.monotonic() - started < 30
        assert second.stdout == "Murmuration is already running in the tray; it was brought forward to open Alpha.\n"

        state = first.wait_for(lambda s: "Alpha" in s["window"]["tabs"], what="Alpha's tab in the first tray")
        assert state["window"]["current"] == "Alpha"
        assert state["window"]["visible"]
        assert first.proc.poll() is None  # the first goes on
    finally:
        first.end()


def test_a_second_murmuration_says_in_one_line_that_the_running_tray_came_forward(home: Path) -> None:
    env = tray_environment()
    first = TrayProcess(env)
    try:
        first.wait_for(lambda s: s["window"]["visible"], what="the first tray's window")
        first.ask("hide")
        first.wait_for(lambda s: not s["window"]["visible"], what="the window hidden, the tray still running")
        second = launch(env)  # `murmuration`, no command: what a person types or a launcher runs
        assert second.returncode == 0, second.stderr
        assert second.stdout == "Murmuration is already running in the tray; its window was brought forward.\n"
        assert second.stderr == ""
        first.wait_for(lambda s: s["window"]["visible"], what="the window brought forward")
        assert first.proc.poll() is None
    finally:
        first.end()


def launch(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """A second `murmuration` as a user's shell runs it: output buffered as Python buffers a pipe by default."""
    user = {k: v for k, v in env.items() if k not in ("PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE")}
    return subprocess.run(
        [sys.executable, "-m", "murmuration", *args], env=user, capture_output=True, text=True, timeout=60
    )


def test_a_tray_killed_without_cleaning_up_does_not_block_the_next_one(home: Path) -> None:
    env = tray_environment()
    first = TrayProcess(env)
    first.kill()  # its lock dies with it; its socket file stays behind
    second = TrayProcess(env)
    try:
        state = second.wait_for(lambda s: s["window"]["visible"], what="the new tray's window")
        assert state["instances"] == []
    finally:
        second.end()


def test_the_channel_is_named_per_user_and_base_folder(home: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    here = server_name()
    monkeypatch.setenv("MURMURATION_HOME", str(home / "elsewhere"))
    assert server_name() != here
    assert here.startswith("murmuration-tray-")


def test_a_hand_over_message_is_a_list_of_strings_or_nothing() -> None:
    assert parse_message(b'{"args": ["--open", "A"]}') == ["--open", "A"]
    assert parse_message(b'{"args": [1]}') is None
    assert parse_message(b"not json") is None
    assert parse_message(b'["--open"]') is None
