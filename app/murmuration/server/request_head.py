"""The first bytes of a connection: one whole GET request, or a plain refusal before websockets parses it.

websockets accepts any method and, for a request it cannot parse (a body, bare LF line ends, TLS or HTTP/2
bytes, a target urllib cannot split), closes the connection without a word. A client deserves a status: 405 for
a method other than GET, 400 for the rest. And since every answer here closes its connection, a second request
sent behind the first (pipelining, or smuggling) is refused as a whole instead of being read as WebSocket frames.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from websockets.exceptions import SecurityError
from websockets.http11 import Request
from websockets.streams import StreamReader

MAX_HEAD = 64 * 1024  # bytes; websockets caps a line at 8 KiB and a request at 128 headers
END = b"\r\n\r\n"
TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


@dataclass(frozen=True)
class Refusal:
    """The status and sentence to answer a connection with before closing it."""

    status: int
    message: str
    allow_get: bool = False  # a 405 names the one method served


class RequestScreen:
    """Collects a connection's bytes until its request head is complete, then lets it through or refuses it."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> bytes | Refusal | None:
        """All bytes so far once the head is whole and acceptable, a Refusal, or None while more are needed."""
        self._buffer += data
        line_end = self._buffer.find(b"\n")
        if line_end >= 0:
            method = bytes(self._buffer[: line_end + 1]).split(b" ", 1)[0]
            if TOKEN.fullmatch(method) and method != b"GET":
                return Refusal(405, "Method not allowed: this server answers GET only.", allow_get=True)
        end = self._buffer.find(END)
        if end < 0:
            if len(self._buffer) > MAX_HEAD:
                return Refusal(431, "Request header fields too large.")
            if b"\n\n" in self._buffer or (line_end >= 0 and self._buffer[line_end - 1 : line_end] != b"\r"):
                return Refusal(400, "Bad request: lines must end with CR LF.")
            return None
        head = bytes(self._buffer[: end + len(END)])
        if len(self._buffer) > len(head):
            return Refusal(400, "Bad request: send one request per connection and wait for its answer.")
        refusal = _check(head)
        return refusal if refusal is not None else head


def _check(head: bytes) -> Refusal | None:
    """A Refusal when websockets would not parse `head`, or its target is not a plain path."""
    reader = StreamReader()
    reader.feed_data(head)
    reader.feed_eof()
    parser = Request.parse(reader.read_line)
    try:
        next(parser)
    except StopIteration as done:
        request: Request = done.value
    except SecurityError:  # a line over 8 KiB or more than 128 headers
        return Refusal(431, "Request header fields too large.")
    except (ValueError, NotImplementedError, EOFError):  # UnicodeDecodeError is a ValueError
        return Refusal(400, "Bad request: this is not an HTTP/1.1 GET request without a body.")
    else:  # the parser wanted more than a complete head holds
        return Refusal(400, "Bad request: the request head is incomplete.")
    # Origin-form only ("/path?query"): an absolute or authority form is not what a browser sends a server.
    if not request.path.startswith("/") or request.path.startswith("//"):
        return Refusal(400, "Bad request: the request target must be a path starting with one /.")
    try:
        urlsplit(request.path)
    except ValueError:
        return Refusal(400, "Bad request: the request target is not a valid path.")
    return None
