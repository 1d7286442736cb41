"""Whether this copy of Murmuration runs from a place that will vanish, so no path to it may be written down.

A login item or an agent's MCP config names the executable by its path. macOS runs an app opened where it was
downloaded from a random read-only copy (App Translocation) that is gone after a restart; a disk image under
/Volumes/ is gone once ejected; Downloads gets cleaned out; Windows runs a program opened inside a .zip from a
temporary folder. Written down, such a path breaks later, silently: the person is asked to move the app first.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path, PurePath


class VanishingInstallation(OSError):
    """This copy runs from a place that will vanish; the message says where to move it."""


def vanishing_reason(
    executable: PurePath,
    platform: str = sys.platform,
    home: PurePath | None = None,
    temp: PurePath | None = None,
) -> str | None:
    """Why a path to `executable` must not be written down (one sentence saying what to do), or None when it lasts."""
    home = Path.home() if home is None else home
    text = executable.as_posix()
    if platform == "darwin" and "/AppTranslocation/" in text:
        return (
            "macOS runs Murmuration from a temporary copy because it was opened where it was downloaded; "
            "move Murmuration.app to Applications, open it from there and try again."
        )
    if platform == "darwin" and text.startswith("/Volumes/"):
        return (
            f"Murmuration runs from a disk image ({text.split('/')[2]}) that goes away once it is ejected; "
            "drag Murmuration.app to Applications, open it from there and try again."
        )
    if _under(executable, home / "Downloads"):
        return (
            "Murmuration runs from your Downloads folder, which is often cleaned out; move it to "
            f"{'Applications' if platform == 'darwin' else 'a folder of its own'}, start it from there and try again."
        )
    if platform == "win32" and _under(executable, Path(tempfile.gettempdir()) if temp is None else temp):
        return (
            "Murmuration runs from a temporary folder (opened inside a .zip?); extract or install it, start it from "
            "there and try again."
        )
    return None


def check_lasting(executable: PurePath) -> None:
    """Raise VanishingInstallation when a path to `executable` must not be written down."""
    reason = vanishing_reason(executable)
    if reason is not None:
        raise VanishingInstallation(reason)


def _under(path: PurePath, folder: PurePath) -> bool:
    # Case-insensitively: macOS and Windows file systems usually are.
    parts, prefix = [p.lower() for p in path.parts], [p.lower() for p in folder.parts]
    return len(parts) > len(prefix) and parts[: len(prefix)] == prefix
