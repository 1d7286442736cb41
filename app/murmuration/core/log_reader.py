"""Reading a process's log files without reading all of them: the tail from the end, a cursor or a time by bisection.

Line numbers and times only grow through a log, so the line after a cursor (or the first line at a time) is found
by bisecting byte offsets — a few dozen reads, however big the file. A search (`grep`) reads at most `budget`
bytes per call and says where it stopped, so no call can hold the disk or the memory for long.
"""

from __future__ import annotations

import collections
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from murmuration.core.line_pattern import LinePattern
from murmuration.core.process_log import LogLine, first_kept, last_number, log_files, parse_line

BLOCK = 1 << 16
SCAN_BUDGET = 4 << 20  # bytes one call may read: a search in Python costs ~0.1 s per MB on a busy machine


@dataclass(frozen=True)
class LogQuery:
    """What a reader asks for: `count` lines (or matches) of `stream`, after a cursor or from a time, or the tail."""

    count: int = 100
    stream: str | None = None
    after: int | None = None
    since: str | None = None  # an ISO UTC time as the log writes them
    pattern: LinePattern | None = None
    context: int = 0

    @property
    def from_the_end(self) -> bool:
        return self.after is None and self.since is None


@dataclass
class LogPage:
    """Lines found, the cursor for the next call, the first line still kept, and whether the search stopped early."""

    lines: list[LogLine] = field(default_factory=list)
    matches: set[int] = field(default_factory=set)  # numbers of the lines that matched a pattern (not context)
    next: int = 0
    first: int = 1
    more: bool = False


def read(path: Path, query: LogQuery, budget: int = SCAN_BUDGET) -> LogPage:
    """The page of `path`'s log that `query` asks for."""
    if query.pattern is not None:
        query.pattern.renew()
    if query.from_the_end:
        if query.pattern is not None:
            page = _grep_tail(path, query, budget)
        else:
            page = LogPage(tail(path, query.count, query.stream, budget=budget))
        page.next = last_number(path)
    else:
        page = _forward(path, query, budget)
    page.first = first_kept(path)
    return page


def tail(
    path: Path, count: int, stream: str | None = None, block: int = BLOCK, budget: int | None = None
) -> list[LogLine]:
    """The last `count` lines of `stream` (or of all streams), read backwards from the end (at most `budget` bytes)."""
    found: list[LogLine] = []
    for line in _backward(path, block, budget):
        if stream is None or line.stream == stream:
            found.append(line)
            if len(found) == count:
                break
    found.reverse()
    return found


def _backward(path: Path, block: int = BLOCK, budget: int | None = None) -> Iterator[LogLine]:
    """Every line, newest first, across the current file and the older one."""
    spent = 0
    for candidate in reversed(log_files(path)):
        with open(candidate, "rb") as f:
            position = f.seek(0, os.SEEK_END)
            rest = b""
            while position > 0:
                if budget is not None and spent >= budget:
                    return
                step = min(block, position)
                position -= step
                spent += step
                f.seek(position)
                lines = (f.read(step) + rest).split(b"\n")
                rest = lines.pop(0) if position > 0 else b""
                for raw in reversed(lines):
                    line = parse_line(raw) if raw else None
                    if line is not None:
                        yield line


def _line_at(f: BinaryIO, offset: int) -> tuple[LogLine, int] | None:
    """The first whole line starting at or after `offset`, and where it starts."""
    if offset > 0:
        f.seek(offset - 1)
        if f.read(1) != b"\n":
            f.readline()  # the rest of a line that began before `offset`
    else:
        f.seek(0)
    while True:
        start = f.tell()
        raw = f.readline()
        if not raw.endswith(b"\n"):
            return None
        line = parse_line(raw[:-1])
        if line is not None:
            return line, start


def _first_offset(f: BinaryIO, reached: Callable[[LogLine], bool]) -> int:
    """Where the first line for which `reached` holds starts (lines are in order), or the end of the file."""
    size = f.seek(0, os.SEEK_END)
    low, high = 0, size
    while high - low > BLOCK:
        middle = (low + high) // 2
        found = _line_at(f, middle)
        if found is None or reached(found[0]):
            high = middle
        else:
            low = middle
    offset = low
    while (found := _line_at(f, offset)) is not None:
        line, start = found
        if reached(line):
            return start
        offset = f.tell()
    return size


def _lines_from(path: Path, reached: Callable[[LogLine], bool]) -> Iterator[tuple[LogLine, int]]:
    """Every line from the first that `reached` accepts to the end, with the bytes read so far."""
    spent = 0
    started = False
    for candidate in log_files(path):
        with open(candidate, "rb") as f:
            if not started:
                offset = _first_offset(f, reached)
                if offset == f.seek(0, os.SEEK_END):
                    continue
                f.seek(offset)
                started = True
            for raw in f:
                spent += len(raw)
                if not raw.endswith(b"\n"):
                    return  # a line still being written
                line = parse_line(raw[:-1])
                if line is not None:
                    yield line, spent


def _forward(path: Path, query: LogQuery, budget: int) -> LogPage:
    after = query.after or 0
    since = query.since

    def reached(line: LogLine) -> bool:
        return line.n > after and (since is None or line.time >= since)

    page = LogPage(next=after)
    picker = Picker(query)
    for line, spent in _lines_from(path, reached):
        done = picker.offer(line)
        if not picker.declined:
            page.next = max(page.next, line.n)
        if done:
            break
        if spent >= budget:
            page.more = True
            break
    page.lines, page.matches = picker.lines, picker.matches
    return page


def _grep_tail(path: Path, query: LogQuery, budget: int) -> LogPage:
    """The last `count` matches with their context: collect backwards, then pick forwards."""
    assert query.pattern is not None
    segment: list[LogLine] = []
    matches = 0
    before_left = None
    exhausted = True
    for line in _backward(path, budget=budget):
        segment.append(line)
        if before_left is not None:
            before_left -= 1
            if before_left <= 0:
                exhausted = False
                break
            continue
        if _matches(query, line):
            matches += 1
            if matches == query.count:
                before_left = query.context
                if before_left == 0:
                    exhausted = False
                    break
    segment.reverse()
    picker = Picker(query, limit=None)
    for line in segment:
        picker.offer(line)
    page = LogPage(picker.lines, picker.matches)
    page.more = exhausted and matches < query.count and sum(f.stat().st_size for f in log_files(path)) > budget
    return page


def _matches(query: LogQuery, line: LogLine) -> bool:
    if query.stream is not None and line.stream != query.stream:
        return False
    return query.pattern is None or query.pattern.search(line.text)


class Picker:
    """Keeps the lines a query wants in order: every line of its stream, or matches with `context` lines around."""

    def __init__(self, query: LogQuery, limit: int | None = -1) -> None:
        self.query = query
        self.limit = query.count if limit == -1 else limit
        self.lines: list[LogLine] = []
        self.matches: set[int] = set()
        self._before: collections.deque[LogLine] = collections.deque(maxlen=max(query.context, 1))
        self._after_left = 0
        self.declined = False  # the last line offered was left for the next call

    def offer(self, line: LogLine) -> bool:
        """Take `line` if wanted; True once the query has all it asked for."""
        query = self.query
        if query.pattern is None:
            if query.stream is None or line.stream == query.stream:
                self.lines.append(line)
            return self.limit is not None and len(self.lines) >= self.limit
        if _matches(query, line):
            if self.limit is not None and len(self.matches) >= self.limit:
                self.declined = True
                return True
            if query.context:
                self.lines.extend(self._before)
                self._before.clear()
            self.lines.append(line)
            self.matches.add(line.n)
            self._after_left = query.context
        elif self._after_left > 0:
            self.lines.append(line)
            self._after_left -= 1
        elif query.context:
            self._before.append(line)
        done = self.limit is not None and len(self.matches) >= self.limit and self._after_left == 0
        return done
