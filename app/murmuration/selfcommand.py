"""How this program runs itself again: from Python, or as the frozen executable."""

from __future__ import annotations

import sys

# How the command line starts each error sentence it prints (cli/errors.py); a sentence handed on from a
# child's stderr is stripped of it, so the program name is said once.
PROGRAM_PREFIX = "murmuration: "


def self_command(*args: str) -> list[str]:
    """The command line that runs `murmuration ARGS` with this very installation."""
    if getattr(sys, "frozen", False):
        return [sys.executable, *args]
    return [sys.executable, "-m", "murmuration", *args]
