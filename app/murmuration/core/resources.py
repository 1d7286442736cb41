"""What a reservation can hold: path globs inside the instance's working directory, and plain names.

A resource with a colon is a *name* (`port:5432`, `lock:migrations`), equal only to itself. Anything else is a
*path glob* relative to the working directory: `*` and `?` stay within one folder, `**` spans any depth, and a
path without wildcards covers everything beneath it (`src/db` is `src/db/**`), so a bare word such as
`migrations` works as a name and as a folder alike. Two resources overlap when some path could match both;
that is decided on the patterns themselves, without looking at the disk.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar

from murmuration.core.errors import Invalid

MAX_RESOURCE = 1000
MAX_DEPTH = 64  # segments; comparing two patterns costs their depths multiplied, so keep them real-sized
MAX_SEGMENT = 255  # characters of one file name, as file systems allow
ANY_DEPTH = "**"
CONTROL = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
DRIVE = re.compile(r"^[A-Za-z]:")
WILDCARDS = re.compile(r"[*?]")
T = TypeVar("T")


@dataclass(frozen=True)
class Resource:
    """One resource as given (`text`) and as compared: a name, or the segments of a path pattern."""

    text: str
    name: str | None = None
    segments: tuple[str, ...] = ()
    # The plain folder names the pattern starts with: most pairs part there (src/db/… and src/web/…), which
    # settles them without matching the patterns.
    prefix: tuple[str, ...] = ()

    def overlaps(self, other: Resource) -> bool:
        """Whether some path (or name) is covered by both."""
        if self.name is not None or other.name is not None:
            return self.name == other.name
        common = min(len(self.prefix), len(other.prefix))
        if self.prefix[:common] != other.prefix[:common]:
            return False
        return _paths_meet(self.segments, other.segments)


def resource(value: str, field: str = "resources") -> Resource:
    """`value` read as a name or a path glob; Invalid, naming `field`, for one that is empty, malformed or
    outside the working directory."""
    text = value.strip()
    if not text:
        raise Invalid("A resource cannot be empty; give a path glob like src/db/** or a name like port:5432.", field)
    if len(text) > MAX_RESOURCE:
        raise Invalid(f"A resource can have at most {MAX_RESOURCE} characters.", field)
    if CONTROL.search(text):
        raise Invalid(f"The resource {text[:80]!r} contains control characters; remove them.", field)
    if "\\" in text:
        raise Invalid(f"The resource {text[:80]!r} has a backslash; separate folders with '/'.", field)
    if text.startswith(("/", "~")) or DRIVE.match(text):
        raise Invalid(
            f"The resource {text[:80]!r} is not relative; give a path inside the instance's working directory, "
            "e.g. src/db/**.",
            field,
        )
    if ":" in text and "/" not in text:
        return Resource(text, name=text)
    segments: list[str] = []
    for segment in text.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments and WILDCARDS.search(segments[-1]):
                raise Invalid(
                    f"In the resource {text[:80]!r}, '..' follows a wildcard; write the path without it.", field
                )
            if not segments:
                raise Invalid(
                    f"The resource {text[:80]!r} leads out of the instance's working directory; give a path inside it.",
                    field,
                )
            segments.pop()
            continue
        # `**` means any depth only as a whole segment; inside one (`a**b`) it is an ordinary star.
        segments.append(segment if segment == ANY_DEPTH else re.sub(r"\*+", "*", segment))
    if len(segments) > MAX_DEPTH or any(len(s) > MAX_SEGMENT for s in segments):
        raise Invalid(
            f"The resource {text[:80]!r} is deeper than {MAX_DEPTH} folders or has a name longer than "
            f"{MAX_SEGMENT} characters; reserve a folder above it.",
            field,
        )
    if not any(WILDCARDS.search(s) for s in segments):
        segments.append(ANY_DEPTH)  # a plain path covers what lies beneath it
    plain = tuple(itertools.takewhile(lambda segment: not WILDCARDS.search(segment), segments))
    return Resource(text, segments=tuple(segments), prefix=plain)


def _meet(p: Sequence[T], q: Sequence[T], star: T, same: Callable[[T, T], bool]) -> bool:
    """Whether some string matches both patterns, `star` standing for any run of symbols.

    A search over positions (i in p, j in q) rather than recursion, so a long pattern cannot exhaust the stack.
    """
    seen = {(0, 0)}
    todo = [(0, 0)]
    while todo:
        i, j = todo.pop()
        if i == len(p) and j == len(q):
            return True
        steps = []
        if i < len(p) and p[i] == star:
            steps += [(i + 1, j)] + ([(i, j + 1)] if j < len(q) else [])  # p's star matches nothing, or q[j]
        if j < len(q) and q[j] == star:
            steps += [(i, j + 1)] + ([(i + 1, j)] if i < len(p) else [])
        if i < len(p) and j < len(q) and p[i] != star and q[j] != star and same(p[i], q[j]):
            steps.append((i + 1, j + 1))
        for step in steps:
            if step not in seen:
                seen.add(step)
                todo.append(step)
    return False


@lru_cache(maxsize=4096)
def _names_meet(p: str, q: str) -> bool:
    """Whether some file name matches both one-segment patterns (`*` any run, `?` one character)."""
    return _meet(p, q, "*", lambda a, b: a == b or "?" in (a, b))


def _paths_meet(p: tuple[str, ...], q: tuple[str, ...]) -> bool:
    """Whether some path matches both patterns, `**` standing for any number of segments."""
    return _meet(p, q, ANY_DEPTH, _names_meet)
