"""The failures core reports; the layers above turn them into protocol errors."""

from __future__ import annotations

import errno
import os
import sqlite3
from typing import Any


class NotFound(LookupError):
    """No item has the id asked for."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class Invalid(ValueError):
    """A value core refuses; the message names the field and the rule it broke."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class Conflict(Exception):
    """The request clashes with what is stored (a duplicate link, say); `details` say with what, for programs."""

    def __init__(self, message: str, field: str | None = None, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details or {}


class DiskFull(OSError):
    """The disk holding an instance's data folder has no room left (ENOSPC, SQLITE_FULL): nothing was half done."""

    def __init__(self, folder: object) -> None:
        self.message = f"The disk holding {folder} is full; free some space and retry."
        super().__init__(self.message)
        self.folder = folder


class Damaged(Exception):
    """state.db failed SQLite's own checks (or a read hit a corrupt page): it takes no more writes."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    @staticmethod
    def sentence(instance_id: str) -> str:
        """What a client is told on every refused write, naming the command that repairs it."""
        return (
            f"This instance's data is damaged, so it is read-only; run `murmuration doctor {instance_id}` "
            "to see what is wrong and how to repair it."
        )


def storage_failure(exc: BaseException, folder: object) -> Exception | None:
    """Core's name for a storage error: DiskFull for SQLITE_FULL or ENOSPC, Damaged for a corrupt file, else None."""
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", 0) & 0xFF  # the primary code, without the extended bits
        if code == sqlite3.SQLITE_FULL:
            return DiskFull(folder)
        if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
            return Damaged(str(exc))
    elif isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        # A file written outside the data folder (an export, say) names its own disk.
        return DiskFull(os.path.dirname(os.path.abspath(exc.filename)) if exc.filename else folder)
    return None
