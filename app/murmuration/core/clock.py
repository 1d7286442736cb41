"""Timestamps as core stores them: UTC ISO 8601 with milliseconds, like the original's files."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
