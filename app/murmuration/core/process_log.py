"""A managed process's output: every line on disk, numbered, stream-tagged and timestamped; the last lines in memory.

Lines are kept as the bytes the process wrote (ANSI colour codes included) and decoded only to be shown.
One file line: `<number> <UTC ISO time> <out|err|sys> <text>`. Numbers grow by one per line across every run of
the process, so a reader's cursor is simply the last number it saw. The log on disk is capped: when the current
file reaches half the cap it becomes `<id>.log.1` (replacing the older half), so at most the cap is kept.
"""

from __future__ import annotations

import collections
import errno
import os
from dataclasses import dataclass
from pathlib import Path

from murmuration.core import clock
from murmuration.privatefiles import create_private, private_folder

STREAMS = ("stdout", "stderr", "system")
TAGS = {"stdout": b"out", "stderr": b"err", "system": b"sys"}
STREAM_OF = {v: k for k, v in TAGS.items()}
RECENT = 1000  # lines kept in memory per process
MAX_LINE = 64 * 1024  # a "line" longer than this is cut into pieces, so memory stays bounded
DEFAULT_MAX_BYTES = 100 * 1024 * 1024
LOW_SPACE_ERRORS = (errno.ENOSPC, errno.EDQUOT)


@dataclass(frozen=True)
class LogLine:
    n: int
    time: str
    stream: str
    text: str

    def as_dict(self) -> dict[str, str | int]:
        return {"n": self.n, "time": self.time, "stream": self.stream, "text": self.text}


def older_file(path: Path) -> Path:
    """Where the older half of a capped log lives."""
    return path.with_name(path.name + ".1")


def log_files(path: Path) -> list[Path]:
    """A process's log files, oldest first."""
    return [p for p in (older_file(path), path) if p.exists()]


def _pieces(line: bytes) -> list[bytes]:
    return [line[i : i + MAX_LINE] for i in range(0, len(line), MAX_LINE)] or [line]


class LineSplitter:
    """Cuts a byte stream into lines, holding back an unfinished last line until more arrives."""

    def __init__(self) -> None:
        self._rest = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        data = self._rest + chunk
        lines = data.split(b"\n")
        self._rest = lines.pop()
        while len(self._rest) > MAX_LINE:
            lines.append(self._rest[:MAX_LINE])
            self._rest = self._rest[MAX_LINE:]
        if any(len(line) > MAX_LINE for line in lines):
            lines = [piece for line in lines for piece in _pieces(line)]
        return lines

    def finish(self) -> list[bytes]:
        rest, self._rest = self._rest, b""
        return [rest] if rest else []


class ProcessLog:
    """Appends a process's lines to its log file and keeps the most recent ones at hand.

    A write the disk has no room for is dropped and counted (the process must never block on its log);
    the first write that fits afterwards records how many lines were lost.
    """

    def __init__(self, path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.path = path
        self.max_bytes = max_bytes
        private_folder(path.parent)
        self.last = last_number(path)
        # 0600 and never through a link: a process's output can hold secrets.
        self._fd = create_private(path)
        self._size = os.fstat(self._fd).st_size
        self.first_kept = first_kept(path)  # lines before it were cut by the cap
        self._current_first = first_number(path) or self.last + 1
        self.lost = 0  # lines not written since the disk filled
        self.recent: collections.deque[LogLine] = collections.deque(maxlen=RECENT)
        self._earlier_runs = self.last > 0  # lines of earlier runs are on disk only

    def write(self, stream: str, lines: list[bytes]) -> str:
        """Record `lines` of `stream` under one timestamp (they arrived together); returns it."""
        stamp = clock.now()
        if self.lost:
            self._note_loss(stamp)
        first = self.last + 1
        self.last += len(lines)
        self.recent.extend(
            LogLine(first + i, stamp, stream, line.decode("utf-8", "replace")) for i, line in enumerate(lines)
        )
        tail = b" " + stamp.encode() + b" " + TAGS[stream] + b" "
        data = b"".join(b"%d%b%b\n" % (first + i, tail, line) for i, line in enumerate(lines))
        if not self._append(data):
            self.lost += len(lines)
        return stamp

    def _note_loss(self, stamp: str) -> None:
        self.last += 1
        note = f"{self.lost} lines were not written to disk: the disk was full"
        if self._append(b"%d %b sys %b\n" % (self.last, stamp.encode(), note.encode())):
            self.recent.append(LogLine(self.last, stamp, "system", note))
            self.lost = 0
        else:
            self.lost += 1

    def _append(self, data: bytes) -> bool:
        """Write `data` whole or not at all; False when the disk is full (anything half written is taken back)."""
        if self._size + len(data) > self.max_bytes // 2 and self._size > 0:
            self._rotate()
        written = 0
        try:
            while written < len(data):
                written += os.write(self._fd, data[written:])
        except OSError as exc:
            if exc.errno not in LOW_SPACE_ERRORS:
                raise
            if written:
                os.ftruncate(self._fd, self._size)  # never leave half a line behind
            return False
        self._size += written
        return True

    def _rotate(self) -> None:
        self.first_kept, self._current_first = self._current_first, self.last + 1
        os.close(self._fd)
        os.replace(self.path, older_file(self.path))
        self._fd = create_private(self.path)
        self._size = 0

    def system(self, text: str) -> None:
        """A note of Murmuration's own; kept to one line, whatever the text holds."""
        self.write("system", [text.replace("\r", "\\r").replace("\n", "\\n").encode()])

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def tail_recent(self, count: int, stream: str | None) -> list[LogLine] | None:
        """The last `count` lines from memory, or None when memory does not reach back far enough."""
        lines = [entry for entry in self.recent if stream is None or entry.stream == stream]
        if len(lines) < count and (self._earlier_runs or len(self.recent) == self.recent.maxlen):
            return None
        return lines[-count:] if count else []

    def after_recent(self, after: int, count: int, stream: str | None) -> list[LogLine] | None:
        """Up to `count` lines numbered above `after`, from memory; None when memory does not reach back to it."""
        if after >= self.last:
            return []
        if not self.recent or self.recent[0].n > after + 1:
            return None
        found = []
        for line in self.recent:
            if line.n > after and (stream is None or line.stream == stream):
                found.append(line)
                if len(found) == count:
                    break
        return found


def parse_line(raw: bytes) -> LogLine | None:
    """One file line, or None when it is not one (a torn or foreign line)."""
    number, _, rest = raw.partition(b" ")
    if not number.isdigit():  # a log written before lines were numbered: `<time> <tag> <text>`
        number, rest = b"0", raw
    stamp, _, rest = rest.partition(b" ")
    tag, _, text = rest.partition(b" ")
    stream = STREAM_OF.get(tag)
    if stream is None:
        return None
    return LogLine(int(number), stamp.decode("ascii", "replace"), stream, text.decode("utf-8", "replace"))


def first_number(path: Path) -> int | None:
    """The number of the first line of one log file, or None when it has none."""
    try:
        with open(path, "rb") as f:
            for raw in f:
                line = parse_line(raw.rstrip(b"\n"))
                if line is not None:
                    return line.n
    except FileNotFoundError:
        pass
    return None


def first_kept(path: Path) -> int:
    """The number of the oldest line still on disk (lines before it were cut by the cap); 1 when nothing was cut."""
    for candidate in log_files(path):
        number = first_number(candidate)
        if number is not None:
            return max(number, 1)
    return 1


def last_number(path: Path, block: int = 1 << 16) -> int:
    """The number of the last line in a process's log files (0 when there is none), read from their ends."""
    for candidate in reversed(log_files(path)):
        with open(candidate, "rb") as f:
            end = f.seek(0, os.SEEK_END)
            position = max(0, end - block)
            while True:
                f.seek(position)
                lines = f.read(end - position).split(b"\n")
                for raw in reversed(lines[1:] if position > 0 else lines):
                    line = parse_line(raw) if raw else None
                    if line is not None:
                        return line.n
                if position == 0:
                    break
                position = max(0, position - block)
    return 0
