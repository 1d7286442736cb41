"""The server's own log: rotated in the data folder, with the token scrubbed from every line."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from murmuration.privatefiles import PrivateRotatingLog, private_folder

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


def open_server_log(path: Path, secrets: list[str]) -> tuple[logging.Handler, Redact]:
    """Send the `murmuration` loggers to a rotated file at `path`; its handler and its redaction filter."""
    private_folder(path.parent)
    handler = PrivateRotatingLog(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    redact = Redact(secrets)
    handler.addFilter(redact)
    root = logging.getLogger("murmuration")
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    # The handshake's debug lines would carry request paths, and /login paths carry secrets.
    logging.getLogger("murmuration.websockets").setLevel(logging.WARNING)
    return handler, redact
