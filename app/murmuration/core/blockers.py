"""Issues that wait on other issues: the edges of the dependency graph, kept free of cycles.

An issue waits on its blockers until each of them is completed or archived; only then is it ready.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from murmuration.core.errors import Invalid, NotFound

RESOLVED = ("completed", "archived")
MAX_BLOCKERS = 100
# The condition, on a row of `issues` named `i`, that it waits on no issue that is still to be done.
UNBLOCKED_SQL = (
    "NOT EXISTS (SELECT 1 FROM issue_blockers AS b JOIN issues AS x ON x.number = b.blocker "
    "WHERE b.number = i.number AND x.status NOT IN ('completed', 'archived'))"
)


def replace_blockers(db: sqlite3.Connection, number: int, blockers: Iterable[int]) -> None:
    """Make issue `number` wait on exactly the issues `blockers`, inside the caller's transaction.

    Refuses (before changing anything) a missing issue, the issue itself, and any blocker that already waits
    on `number` through others — a cycle nobody could ever start.
    """
    numbers: list[int] = []
    for blocker in dict.fromkeys(blockers):
        if db.execute("SELECT 1 FROM issues WHERE number = ?", (blocker,)).fetchone() is None:
            raise NotFound(f"blocked_by names ISSUE_{blocker}, which does not exist.", "blocked_by")
        if blocker == number:
            raise Invalid(f"ISSUE_{number} cannot wait on itself; remove it from blocked_by.", "blocked_by")
        numbers.append(blocker)
    if len(numbers) > MAX_BLOCKERS:
        raise Invalid(f"An issue can wait on at most {MAX_BLOCKERS} others.", "blocked_by")
    for blocker in numbers:
        path = _path(db, blocker, number)
        if path is not None:
            cycle = " → ".join(f"ISSUE_{n}" for n in (number, *path))
            raise Invalid(
                f"That would make a cycle of issues waiting on each other ({cycle}); remove one of those blockers.",
                "blocked_by",
            )
    db.execute("DELETE FROM issue_blockers WHERE number = ?", (number,))
    db.executemany("INSERT INTO issue_blockers (number, blocker) VALUES (?, ?)", [(number, b) for b in numbers])


def _path(db: sqlite3.Connection, start: int, goal: int) -> list[int] | None:
    """The issues from `start` to `goal` following "waits on" edges (both ends included), or None."""
    came_from: dict[int, int | None] = {start: None}
    frontier = [start]
    while frontier:
        following: list[int] = []
        for current in frontier:
            if current == goal:
                path = [current]
                while (step := came_from[path[-1]]) is not None:
                    path.append(step)
                return path[::-1]
            for (blocker,) in db.execute("SELECT blocker FROM issue_blockers WHERE number = ?", (current,)):
                if blocker not in came_from:
                    came_from[blocker] = current
                    following.append(blocker)
        frontier = following
    return None


def blockers_of(db: sqlite3.Connection, numbers: list[int]) -> dict[int, list[tuple[int, str]]]:
    """For each issue of `numbers`, the issues it waits on with their status, in id order."""
    found: dict[int, list[tuple[int, str]]] = {n: [] for n in numbers}
    for start in range(0, len(numbers), 500):  # SQLite caps bound parameters; a page is at most 1000 issues
        chunk = numbers[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        rows = db.execute(
            f"SELECT b.number, b.blocker, x.status FROM issue_blockers AS b JOIN issues AS x ON x.number = b.blocker "
            f"WHERE b.number IN ({marks}) ORDER BY b.number, b.blocker",
            chunk,
        )
        for number, blocker, status in rows:
            found[number].append((blocker, status))
    return found
