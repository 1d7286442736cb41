"""A managed process's output: every line on disk, stream-tagged and timestamped; the last lines in memory.

Lines are kept as the bytes the process wrote (ANSI colour codes included) and decoded only to be shown.
One file line: `<UTC ISO time> <out|err|sys> <text>`.
"""

from __future__ import annotations

import collections
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from murmuration.core import clock
from murmuration.privatefiles import create_private, private_folder

STREAMS = ("stdout", "stderr", "system")
TAGS = {"stdout": b"out", "stderr": b"err", "system": b"sys"}
STREAM_OF = {v: k for k, v in TAGS.items()}
RECENT = 1000  # lines kept in memory per process
MAX_LINE = 64 * 1024  # a "line" longer than this is cut into pieces, so memory stays bounded


@dataclass(frozen=True)
class LogLine:
    time: str
    stream: str
    text: str

    def as_dict(self) -> dict[str, str]:
        return {"time": self.time, "stream": self.stream, "text": self.text}


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
    """Appends a process's lines to its log file and keeps the most recent ones at hand."""

    def __init__(self, path: Path) -> None:
        self.path = path
        private_folder(path.parent)
        # 0600 and never through a link: a process's output can hold secrets.
        self._file: BinaryIO = open(create_private(path), "ab")  # noqa: SIM115 - closed by close()
        self.recent: collections.deque[tuple[str, str, bytes]] = collections.deque(maxlen=RECENT)

    def write(self, stream: str, lines: list[bytes]) -> str:
        """Record `lines` of `stream` under one timestamp (they arrived together); returns it."""
        stamp = clock.now()
        tag = TAGS[stream]
        prefix = stamp.encode() + b" " + tag + b" "
        self._file.write(b"".join(prefix + line + b"\n" for line in lines))
        self.recent.extend((stamp, stream, line) for line in lines)
        return stamp

    def system(self, text: str) -> None:
        """A note of Murmuration's own; kept to one line, whatever the text holds."""
        self.write("system", [text.replace("\r", "\\r").replace("\n", "\\n").encode()])
        self.flush()

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()

    def tail_recent(self, count: int, stream: str | None) -> list[LogLine] | None:
        """The last `count` lines from memory, or None when memory does not reach back far enough."""
        lines = [entry for entry in self.recent if stream is None or entry[1] == stream]
        if len(lines) < count and len(self.recent) == self.recent.maxlen:
            return None
        return [LogLine(t, s, b.decode("utf-8", "replace")) for t, s, b in lines[-count:]]


def parse_line(raw: bytes) -> LogLine | None:
    stamp, _, rest = raw.partition(b" ")
    tag, _, text = rest.partition(b" ")
    stream = STREAM_OF.get(tag)
    if stream is None:
        return None
    return LogLine(stamp.decode("ascii", "replace"), stream, text.decode("utf-8", "replace"))


def tail_file(path: Path, count: int, stream: str | None = None, block: int = 1 << 16) -> list[LogLine]:
    """The last `count` lines of `stream` (or of all streams) in a log file, read backwards from its end."""
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return []
    found: list[LogLine] = []
    with f:
        position = f.seek(0, os.SEEK_END)
        rest = b""
        while position > 0 and len(found) < count:
            step = min(block, position)
            position -= step
            f.seek(position)
            data = f.read(step) + rest
            lines = data.split(b"\n")
            rest = lines.pop(0) if position > 0 else b""
            for raw in reversed(lines):
                line = parse_line(raw) if raw else None
                if line is not None and (stream is None or line.stream == stream):
                    found.append(line)
                    if len(found) == count:
                        break
    found.reverse()
    return found
