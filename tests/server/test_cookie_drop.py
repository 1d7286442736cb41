"""Cookie lines leave the request head byte by byte, however the bytes are chunked; nothing else changes."""

from __future__ import annotations

import random
import re

import pytest

from murmuration.server.cookie_drop import CookieDrop

HEAD = (
    b"GET /ws?cookie:=1 HTTP/1.1\r\n"
    b"Host: 127.0.0.1:8080\r\n"
    b"Cookie: murmuration_x=planted; big=" + b"x" * 20_000 + b"\r\n"
    b"cookie:lower=1\r\n"
    b"COOKIE: upper=1\r\n"
    b"Cookies-Not: kept\r\n"
    b"Cook: kept\r\n"
    b"X-Cookie: kept\r\n"
    b"Sec-WebSocket-Protocol: murmuration.v1, murmuration.session.abc\r\n"
    b"\r\n"
)
BODY = b"\x81\x85Cookie: a frame, not a header\r\n\r\n"


def expected(head: bytes) -> bytes:
    return re.sub(rb"(?im)^cookie:[^\n]*\n", b"", head)


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 8, 1000, 1 << 20])
def test_cookie_lines_are_dropped_at_any_chunking_and_the_rest_passes(chunk: int) -> None:
    data = HEAD + BODY
    drop = CookieDrop()
    out = b"".join(drop.feed(data[i : i + chunk]) for i in range(0, len(data), chunk))
    assert out == expected(HEAD) + BODY
    assert b"planted" not in out
    assert b"Cookies-Not: kept\r\nCook: kept\r\nX-Cookie: kept\r\n" in out


def test_random_chunks_give_the_same_bytes() -> None:
    rng = random.Random(7)
    data = HEAD + BODY
    for _ in range(10):
        drop, out, i = CookieDrop(), b"", 0
        while i < len(data):
            n = rng.randint(1, 40)
            out += drop.feed(data[i : i + n])
            i += n
        assert out == expected(HEAD) + BODY


def test_a_head_without_cookies_is_untouched_and_bare_newlines_work() -> None:
    head = b"GET / HTTP/1.1\nHost: x\nCookie: y\n\nrest"
    assert CookieDrop().feed(head) == b"GET / HTTP/1.1\nHost: x\n\nrest"
    plain = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n"
    assert CookieDrop().feed(plain) == plain


def test_an_endless_cookie_line_costs_no_memory() -> None:
    drop = CookieDrop()
    assert drop.feed(b"GET / HTTP/1.1\r\nCookie: ") == b"GET / HTTP/1.1\r\n"
    for _ in range(1000):
        assert drop.feed(b"x" * 4096) == b""
    assert drop.feed(b"\r\nHost: h\r\n\r\n") == b"Host: h\r\n\r\n"
