"""How this program runs itself again: from Python, or as the frozen executable."""

from __future__ import annotations

import sys


def self_command(*args: str) -> list[str]:
    """The command line that runs `murmuration ARGS` with this very installation."""
    if getattr(sys, "frozen", False):
        return [sys.executable, *args]
    return [sys.executable, "-m", "murmuration", *args]
