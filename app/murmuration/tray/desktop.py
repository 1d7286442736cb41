"""The desktop's own handlers: the system browser and the file manager (tests replace `open_url` and `launch`)."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices

from murmuration.user_environment import user_environment

log = logging.getLogger(__name__)


def shown_address(url: QUrl) -> str:
    """The URL without its query or user info: what may be shown or logged (a sign-in code lives in the query)."""
    if url.scheme() in ("file", ""):
        return url.toString()
    port = f":{url.port()}" if url.port() != -1 else ""
    fragment = f"#{url.fragment()}" if url.hasFragment() else ""
    return f"{url.scheme()}://{url.host()}{port}{url.path()}{fragment}"


def open_url(url: QUrl) -> bool:
    """Open `url` with the desktop's handler for it (the system browser for http links)."""
    log.info("opening %s outside the tray", shown_address(url))
    return QDesktopServices.openUrl(url)


def open_folder(path: Path) -> bool:
    """Show `path` in the file manager."""
    return open_url(QUrl.fromLocalFile(str(path)))


# How long an opener may take to fail: one still running by then has started a browser that stays in front.
OPENER_WAIT = 5.0


async def launch(url: QUrl) -> str | None:
    """Open `url` with the desktop's handler and learn whether that worked: None, or the reason it did not.

    Qt's own call only says whether the opener could be started; on Linux and the BSDs the opener (xdg-open)
    is run here and its exit status read, so a missing browser, or one that refuses to run as root, is told.
    """
    if sys.platform in ("darwin", "win32"):
        return None if open_url(url) else "the system has no program for it"
    log.info("opening %s outside the tray", shown_address(url))
    target = url.toLocalFile() if url.isLocalFile() else url.toString()
    return await asyncio.to_thread(run_opener, target)


def run_opener(target: str) -> str | None:
    """Run xdg-open on `target` (blocking, at most OPENER_WAIT s); None when it is on its way, else why not."""
    program = shutil.which("xdg-open")
    if program is None:
        return "no program to open it is installed (xdg-open is missing)"
    # Its errors go to a file, not a pipe: a browser left running must never block on a pipe nobody reads
    # (closing our end is harmless: the child writes through its own copy of the file).
    with tempfile.TemporaryFile() as errors:
        try:
            process = subprocess.Popen(
                [program, target],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=errors,
                close_fds=True,
                env=user_environment(os.environ),  # the browser is not ours: it loads its own libraries
            )
        except OSError as exc:
            return f"xdg-open could not run ({exc.strerror or exc})"
        try:
            code = process.wait(OPENER_WAIT)
        except subprocess.TimeoutExpired:
            # Still running: the browser it started runs in front of it. Reap it when it ends (no zombie left).
            threading.Thread(target=process.wait, daemon=True).start()
            return None
        errors.seek(0)
        said = errors.read().decode(errors="replace").strip().splitlines()
    if code == 0:
        return None
    return f"xdg-open failed with exit status {code}" + (f": {said[-1].strip()}" if said else "")
