"""The server's own log: rotated in the data folder, with the token scrubbed from every line."""

from __future__ import annotations

import io
import logging
import logging.handlers
import os
from pathlib import Path

MAX_BYTES = 1 << 20
BACKUPS = 3


class Redact(logging.Filter):
    """Replaces each secret with a placeholder, wherever a message or traceback carries it."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        for secret in self.secrets:
            message = message.replace(secret, "[redacted]")
            if record.exc_text:
                record.exc_text = record.exc_text.replace(secret, "[redacted]")
        record.msg, record.args = message, None
        return True


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotated log whose every file (the first and each one after a rotation) is readable by its owner only."""

    def _open(self) -> io.TextIOWrapper:
        # The handler owns the stream and closes it: no context manager here.
        stream = open(self.baseFilename, self.mode, encoding=self.encoding, errors=self.errors, opener=_private)  # noqa: SIM115
        assert isinstance(stream, io.TextIOWrapper)
        return stream


def _private(path: str, flags: int) -> int:
    return os.open(path, flags, 0o600)


def open_server_log(path: Path, secrets: list[str]) -> logging.Handler:
    """Send the `murmuration` loggers to a rotated file at `path` and return its handler."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    handler = PrivateRotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(Redact(secrets))
    root = logging.getLogger("murmuration")
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    # The handshake's debug lines would carry request paths, and /login paths carry secrets.
    logging.getLogger("murmuration.websockets").setLevel(logging.WARNING)
    return handler
