"""The failures core reports; the layers above turn them into protocol errors."""

from __future__ import annotations

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
