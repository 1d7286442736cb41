"""Cookie header lines are dropped from each request as its bytes arrive, before anything parses them.

The server reads no cookie, and any program on another local port can plant cookies for 127.0.0.1 that every
browser then sends here. Planted in bulk (Chromium sends some 600 KB of them), they would push a request past the
server's limits on a request head and lock the dashboard out with a 431. So `Cookie:` lines are skipped as their
bytes arrive, before the head is collected, without buffering them: however many, they cost neither memory nor a
refusal.
"""

from __future__ import annotations

_NAME = b"cookie:"


class CookieDrop:
    """Sans-I/O: feed it a request's bytes in any chunks; it returns them without the head's Cookie lines."""

    def __init__(self) -> None:
        # first: the request line | line: at a header's start | pass: in a header | skip: in a Cookie line | body
        self._state = "first"
        self._start = b""  # the first bytes of a header line, until they tell whether it is a cookie

    def feed(self, data: bytes) -> bytes:
        if self._state == "body":
            return data
        if self._state != "skip" and not self._start:
            # The usual case: the rest of the head in one read, and no cookie in it.
            end = data.find(b"\r\n\r\n")
            if end >= 0 and _NAME not in data[: end + 4].lower():
                self._state = "body"
                return data
        out = bytearray()
        i = 0
        while i < len(data):
            if self._state == "body":
                out += data[i:]
                break
            if self._state in ("first", "pass", "skip"):
                end = data.find(b"\n", i)
                stop = len(data) if end < 0 else end + 1
                if self._state != "skip":
                    out += data[i:stop]
                if end >= 0:
                    self._state = "line"
                i = stop
                continue
            # At a header line's start: gather just enough to know whether it is a Cookie line or the head's end.
            self._start += data[i : i + 1]
            i += 1
            if self._start in (b"\r\n", b"\n"):
                out += self._start
                self._start, self._state = b"", "body"
            elif self._start.lower() == _NAME:
                self._start, self._state = b"", "skip"
            elif not (_NAME.startswith(self._start.lower()) or self._start == b"\r"):
                out += self._start
                self._start, self._state = b"", ("line" if self._start.endswith(b"\n") else "pass")
        return bytes(out)
