"""The environment a program that is not ours gets: the user's, without what a frozen build changed for itself.

A frozen build's bootloader (PyInstaller, on Linux and the other ELF systems) puts the bundle's own library
folder first in `LD_LIBRARY_PATH` (`LIBPATH` on AIX), so that the bundled Python and Qt load their libraries,
and keeps the value it found in `<name>_ORIG`. Our own children need it (QtWebEngine's helper process, a server
started from the bundle sets it again anyway); an agent's dev server, `git`, `node` or the desktop's browser must
not have it: with the bundle's folder first they would load our OpenSSL, SQLite or zlib instead of their own, and
break wherever their own are newer. docs/ARCHITECTURE.md ("Releases") says what the bundle ships.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

LIBRARY_PATHS = ("LD_LIBRARY_PATH", "LIBPATH")


def user_environment(env: Mapping[str, str]) -> dict[str, str]:
    """`env` with each library path as it was before the frozen bootloader changed it (from source: unchanged)."""
    result = dict(env)
    if not getattr(sys, "frozen", False):
        return result
    for name in LIBRARY_PATHS:
        original = result.pop(f"{name}_ORIG", None)
        if original is not None:
            result[name] = original
        else:
            result.pop(name, None)
    return result
