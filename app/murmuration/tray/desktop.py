"""The desktop's own handlers: the system browser and the file manager (tests replace `open_url`)."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices

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
