"""The command line prints on any console: a character the console's encoding lacks shows as "?", never a crash."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Windows runners pipe stdout in cp1252; LANG=C is what a bare cron job or container gives.
CONSOLES = [{"PYTHONIOENCODING": "cp1252"}, {"PYTHONIOENCODING": "ascii", "LANG": "C"}]


def murmuration(home: Path, console: dict[str, str], *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LC_")}
    env.update(console, MURMURATION_HOME=str(home))
    return subprocess.run(
        [sys.executable, "-m", "murmuration", *args],
        capture_output=True,
        timeout=60,
        env=env,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("console", CONSOLES)
def test_names_the_console_cannot_show_print_as_question_marks(home: Path, console: dict[str, str]) -> None:
    encoding = console["PYTHONIOENCODING"]
    created = murmuration(home, console, "new", "Snowman \u2603 \u65e5\u672c")
    assert created.returncode == 0, created.stderr.decode(encoding, "replace")
    assert created.stdout.decode(encoding).startswith("Created 'Snowman ? ??' (id ")
    listed = murmuration(home, console, "ls")
    assert listed.returncode == 0, listed.stderr.decode(encoding, "replace")
    assert "Snowman ? ??" in listed.stdout.decode(encoding)
    # Programs read JSON, which escapes what it cannot spell in ASCII: nothing is lost for them.
    rows = murmuration(home, console, "ls", "--json")
    assert "Snowman \\u2603 \\u65e5\\u672c" in rows.stdout.decode("ascii")


def test_errors_print_on_a_cp1252_console_too(home: Path) -> None:
    result = murmuration(home, {"PYTHONIOENCODING": "cp1252"}, "stop", "\u2603")
    assert result.returncode == 1
    assert result.stderr.decode("cp1252").startswith("murmuration: ")
    assert b"Traceback" not in result.stderr
