"""How this program runs itself again: from Python, or as the frozen executable (on Windows: which of its two)."""

from __future__ import annotations

import sys
from pathlib import Path

# The Windows bundle has two executables of one program: murmuration.exe is a console program (for terminals and
# MCP clients, which talk to it on stdio); murmuration-tray.exe opens no console window (for the Start menu, login).
CONSOLE_EXE = "murmuration.exe"
WINDOWED_EXE = "murmuration-tray.exe"

# How the command line starts each error sentence it prints (cli/errors.py); a sentence handed on from a
# child's stderr is stripped of it, so the program name is said once.
PROGRAM_PREFIX = "murmuration: "


def self_command(*args: str) -> list[str]:
    """The command line that runs `murmuration ARGS` with this very installation (and this very executable)."""
    if getattr(sys, "frozen", False):
        return [sys.executable, *args]
    return [sys.executable, "-m", "murmuration", *args]


def console_command(*args: str) -> list[str]:
    """Like self_command, with the console executable: what another program runs to talk to us on stdio."""
    if getattr(sys, "frozen", False):
        return [str(twin(Path(sys.executable), console=True)), *args]
    return self_command(*args)


def windowed_command(*args: str) -> list[str]:
    """Like self_command, with the executable that opens no console window: what the desktop starts."""
    if getattr(sys, "frozen", False):
        return [str(twin(Path(sys.executable), console=False)), *args]
    return self_command(*args)


def twin(executable: Path, console: bool, platform: str = sys.platform) -> Path:
    """The console (or windowed) executable of the Windows bundle that `executable` belongs to; elsewhere itself."""
    if platform != "win32" or executable.name.lower() not in (CONSOLE_EXE, WINDOWED_EXE):
        return executable
    wanted = executable.with_name(CONSOLE_EXE if console else WINDOWED_EXE)
    return wanted if wanted.is_file() else executable
