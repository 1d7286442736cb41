"""The login shell's PATH for an app macOS starts with launchd's bare one: asked of real shells, with their files."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from murmuration import login_path

BARE = "/usr/bin:/bin:/usr/sbin:/sbin"
SHELLS = [shell for shell in ("/bin/sh", "/bin/bash", "/bin/zsh") if Path(shell).is_file()]
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="login shells are a POSIX (here: macOS) matter")


def home_with_profile(tmp_path: Path, profile: str) -> dict[str, str]:
    """An environment whose HOME holds `profile` as .profile and .zprofile (what sh, bash and zsh read at login)."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".profile").write_text(profile)
    (home / ".zprofile").write_text(profile)
    return {"HOME": str(home), "PATH": BARE, "ENV": ""}


@pytest.mark.parametrize("shell", SHELLS)
def test_the_login_shell_path_comes_from_the_profile_without_what_it_prints(shell: str, tmp_path: Path) -> None:
    env = home_with_profile(
        tmp_path,
        'echo "Welcome back! Today is a good day."\nexport PATH="/opt/homebrew/bin:$HOME/.local/bin:$PATH"\n',
    )
    found = login_path.shell_path(shell, env=env)
    assert found is not None
    # /etc/profile sets a PATH of its own first (as path_helper does on macOS); the user's file adds to it.
    assert found.split(":")[:2] == ["/opt/homebrew/bin", f"{env['HOME']}/.local/bin"]
    assert "Welcome" not in found


@pytest.mark.parametrize("shell", SHELLS)
def test_a_hanging_profile_gives_up_at_the_timeout(shell: str, tmp_path: Path) -> None:
    env = home_with_profile(tmp_path, "sleep 60\n")
    started = time.monotonic()
    assert login_path.shell_path(shell, timeout=1.0, env=env) is None
    assert time.monotonic() - started < 10  # not the 60 s of the sleep that holds the pipe open


def test_a_shell_that_fails_or_is_missing_gives_nothing(tmp_path: Path) -> None:
    env = home_with_profile(tmp_path, "exit 3\n")
    assert login_path.shell_path("/bin/sh", env=env) is None
    assert login_path.shell_path(str(tmp_path / "no-such-shell"), env=env) is None
    assert login_path.shell_path(str(tmp_path), env=env) is None  # a folder, not a program


def test_parsing_takes_only_what_is_between_the_marks() -> None:
    mark = login_path.MARK
    assert login_path.parse(f"banner\n{mark}/a:/b{mark}") == "/a:/b"
    assert login_path.parse(f"{mark}{mark}/a{mark}") == "/a"  # a banner that happens to print the mark
    assert login_path.parse("no marks at all") is None
    assert login_path.parse(f"{mark}  {mark}") is None


def test_merging_puts_the_login_path_first_and_keeps_each_entry_once() -> None:
    merged = login_path.merge("/opt/homebrew/bin:/usr/bin::/usr/local/bin", "/usr/bin:/bin:/opt/homebrew/bin:")
    assert merged == os.pathsep.join(["/opt/homebrew/bin", "/usr/bin", "/usr/local/bin", "/bin"])


def test_adopt_on_macos_with_the_bare_path_takes_the_shells(tmp_path: Path) -> None:
    environ = home_with_profile(tmp_path, 'export PATH="/opt/homebrew/bin:$PATH:/usr/local/bin"\n')
    assert login_path.adopt(environ, platform="darwin", shell="/bin/sh")
    entries = environ["PATH"].split(":")
    assert entries[0] == "/opt/homebrew/bin"
    assert "/usr/local/bin" in entries
    assert set(BARE.split(":")) <= set(entries)
    assert len(entries) == len(set(entries))


def test_adopt_asks_no_shell_when_the_path_is_already_the_users(tmp_path: Path) -> None:
    asked = tmp_path / "asked"
    spy = tmp_path / "spy-shell"
    spy.write_text(f"#!/bin/sh\ntouch {asked}\n")
    spy.chmod(0o755)
    terminal = {"PATH": f"/opt/homebrew/bin:{BARE}", "HOME": str(tmp_path)}
    assert not login_path.adopt(terminal, platform="darwin", shell=str(spy))
    assert terminal["PATH"] == f"/opt/homebrew/bin:{BARE}"
    assert not login_path.adopt({"PATH": BARE}, platform="linux", shell=str(spy))
    assert not asked.exists()
    # The spy does run when it is asked (so the two checks above could fail), and says nothing: PATH stays.
    bare = {"PATH": BARE, "HOME": str(tmp_path)}
    assert not login_path.adopt(bare, platform="darwin", shell=str(spy))
    assert asked.exists()
    assert bare["PATH"] == BARE
