"""The bridge's own log: a rotated file in its instance's log folder, never stdout (stdout is the protocol)."""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
from collections.abc import Iterator

from murmuration.datafolder import DataFolder
from murmuration.privatefiles import PrivateRotatingLog

MAX_BYTES = 1 << 20
BACKUPS = 3
# The SDK logs each request at INFO; its warnings and errors are what a log reader needs from it.
LOGGERS = {"murmuration": logging.INFO, "mcp": logging.WARNING}


@contextlib.contextmanager
def held_lines() -> Iterator[logging.handlers.MemoryHandler]:
    """Keep what is logged while the bridge chooses its data folder, for the log file it opens there afterwards."""
    held = logging.handlers.MemoryHandler(capacity=1000, flushLevel=logging.CRITICAL + 1)
    logger = logging.getLogger("murmuration")
    level = logger.level
    logger.addHandler(held)
    logger.setLevel(logging.INFO)
    try:
        yield held
    finally:
        logger.removeHandler(held)
        logger.setLevel(level)


def open_bridge_log(folder: DataFolder, held: logging.handlers.MemoryHandler | None = None) -> logging.Handler:
    """Send the bridge's and the MCP SDK's loggers to `logs/mcp-bridge.log` in `folder`, after the `held` lines."""
    folder.ensure_layout()
    handler = PrivateRotatingLog(
        folder.log_folder / "mcp-bridge.log", maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
    )
    # Several agents may run a bridge on one instance: the pid tells their lines apart.
    handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"))
    if held is not None:
        held.setTarget(handler)
        held.close()  # flushes the held lines to the file
    for name, level in LOGGERS.items():
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(level)
        # The root logger's handlers (if a host set any) must not copy our lines onto a console.
        logger.propagate = False
    return handler


def close_bridge_log(handler: logging.Handler) -> None:
    for name in LOGGERS:
        logging.getLogger(name).removeHandler(handler)
    handler.close()
