"""Checks shared by issues, the milestone and fragments: text sizes, tags, control characters."""

from __future__ import annotations

import datetime
import json
import re
from typing import Any

from murmuration.core.errors import Invalid

MAX_TITLE = 200
MAX_TEXT = 100_000  # characters of a body; a whole JSON-RPC message is capped at 1 MiB anyway
MAX_TAGS = 20
TAG = re.compile(r"[A-Za-z0-9_-]{1,50}")
PRIORITIES = ("low", "medium", "high")
# Control characters other than tab, newline and carriage return have no place in text a person reads;
# lone surrogates (JSON can carry them as \ud800) are not text at all and cannot be stored as UTF-8.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def title(value: str, field: str = "title") -> str:
    if CONTROL.search(value):
        raise Invalid(f"The {field} must be one line without control characters.", field)
    value = value.strip()
    if not value:
        raise Invalid(f"The {field} cannot be empty.", field)
    if len(value) > MAX_TITLE:
        raise Invalid(f"The {field} can have at most {MAX_TITLE} characters.", field)
    if CONTROL.search(value) or "\n" in value or "\r" in value:
        raise Invalid(f"The {field} must be one line without control characters.", field)
    return value


def text(value: str, field: str) -> str:
    if len(value) > MAX_TEXT:
        raise Invalid(f"The {field} can have at most {MAX_TEXT:,} characters (it has {len(value):,}).", field)
    if CONTROL.search(value):
        raise Invalid(f"The {field} contains control characters; leave them out.", field)
    return value


def tags(values: list[str], field: str = "tags") -> list[str]:
    if len(values) > MAX_TAGS:
        raise Invalid(f"At most {MAX_TAGS} tags are allowed.", field)
    for tag in values:
        if not TAG.fullmatch(tag):
            raise Invalid(f"The tag {tag[:60]!r} must be 1–50 letters, digits, '-' or '_'.", field)
    return list(dict.fromkeys(values))


def date(value: str | None, field: str) -> str | None:
    """A calendar date as YYYY-MM-DD (or None to clear it); Invalid for 2026-02-30 and other non-dates."""
    if value is None:
        return None
    try:
        day = datetime.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise Invalid(f"The {field} must be a real date like 2026-12-31.", field) from None
    if len(value) != 10:
        raise Invalid(f"The {field} must be a real date like 2026-12-31.", field)
    return day.isoformat()


def choice(value: str, allowed: tuple[str, ...], field: str) -> str:
    if value not in allowed:
        raise Invalid(f"The {field} must be one of {', '.join(allowed)}.", field)
    return value


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def like_pattern(text: str) -> str:
    """A LIKE pattern matching `text` literally anywhere: % and _ in user text are not wildcards."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
