"""Whole-file writes that readers never see half done."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPLACE_PATIENCE = 2.0  # seconds a Windows rename waits for another process to let go of the target


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write `data` to `path` through a temporary file and a rename, with `mode` from the first byte."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates the file 0600; chmod widens it only when asked, so a
        # secret is never readable by others, not even for a moment.
        if mode != 0o600:
            os.fchmod(fd, mode) if hasattr(os, "fchmod") else os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def replace(source: str | Path, target: Path) -> None:
    """os.replace, retried briefly on Windows while another process holds `target` open.

    Windows refuses to replace a file that is open without delete sharing (a reader such as the tray or `ls`, a
    virus scanner, the search indexer); they let go within moments, so waiting a little beats failing the write.
    """
    if sys.platform != "win32":
        os.replace(source, target)
        return
    deadline, pause = time.monotonic() + REPLACE_PATIENCE, 0.01
    while True:
        try:
            os.replace(source, target)
            return
        except PermissionError:
            if time.monotonic() + pause > deadline:
                raise
            time.sleep(pause)  # a back-off between attempts, not a wait for an event: Windows sends none
            pause = min(pause * 2, 0.2)


def write_json(path: Path, value: Any, mode: int = 0o600) -> None:
    """Write `value` as indented JSON, atomically."""
    write_atomic(path, (json.dumps(value, indent=2, sort_keys=True) + "\n").encode(), mode)


def read_json_object(path: Path) -> dict[str, Any] | None:
    """The JSON object stored at `path`, or None when it is missing, unreadable or not an object."""
    try:
        value = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None
