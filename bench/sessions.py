"""What a dashboard session costs: the upgrade and a round trip with a session beside the bearer token (the
baseline), the per-message session check, how long revoking takes to close open sockets, and what dropping
Cookie lines from request heads costs.

    .venv/bin/python bench/sessions.py [--connections 200] [--open 20]

Against a real `murmuration serve`; figures are medians (ms) unless named otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import time
import urllib.request
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request
from websockets.streams import StreamReader
from websockets.typing import Subprotocol

from murmuration.server.cookie_drop import CookieDrop
from murmuration.sessions import PROTOCOL, SESSION_PREFIX, Sessions, session_id
from served import served


def new_session(url: str, token: str) -> str:
    async def code() -> str:
        async with connect(
            url.replace("http", "ws") + "ws", additional_headers={"Authorization": f"Bearer {token}"}
        ) as ws:
            await ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "create_login_code"}))
            return str(json.loads(await ws.recv())["result"]["code"])

    request = urllib.request.Request(url + "session", headers={"Murmuration-Code": asyncio.run(code())})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return str(json.loads(answer.read())["session"])


def credentials(url: str, token: str, session: str | None) -> dict[str, Any]:
    if session is None:
        return {"additional_headers": {"Authorization": f"Bearer {token}"}}
    return {"origin": url.rstrip("/"), "subprotocols": [Subprotocol(PROTOCOL), Subprotocol(SESSION_PREFIX + session)]}


async def ping(ws: ClientConnection, n: int) -> None:
    await ws.send(json.dumps({"jsonrpc": "2.0", "id": n, "method": "ping"}))
    await ws.recv()


async def handshakes(url: str, how: dict[str, Any], count: int) -> tuple[float, float]:
    """Median ms to open a socket, and median ms per ping on one socket."""
    opened = []
    for _ in range(count):
        began = time.perf_counter()
        async with connect(url.replace("http", "ws") + "ws", **how) as ws:
            opened.append((time.perf_counter() - began) * 1000)
    async with connect(url.replace("http", "ws") + "ws", **how) as ws:
        pings = []
        for n in range(count):
            began = time.perf_counter()
            await ping(ws, n)
            pings.append((time.perf_counter() - began) * 1000)
    return statistics.median(opened), statistics.median(pings)


async def revoke_closes(url: str, token: str, sessions: list[str]) -> float:
    """Ms from sending revoke_sessions until every session's socket has seen its close."""
    sockets = [await connect(url.replace("http", "ws") + "ws", **credentials(url, token, s)) for s in sessions]

    async def closed(ws: ClientConnection) -> None:
        try:
            await ws.recv()
        except ConnectionClosed:
            return

    async with connect(url.replace("http", "ws") + "ws", **credentials(url, token, None)) as admin:
        began = time.perf_counter()
        await admin.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "revoke_sessions"}))
        await asyncio.gather(*(closed(ws) for ws in sockets))
        return (time.perf_counter() - began) * 1000


def check_cost(rounds: int) -> float:
    """Microseconds per per-message check (touch) in a book of 100 sessions."""
    book = Sessions()
    ids = [session_id(book.create("127.0.0.1:8080")) for _ in range(100)]
    began = time.perf_counter()
    for n in range(rounds):
        book.touch(ids[n % 100])
    return (time.perf_counter() - began) / rounds * 1e6


def drop_cost(head: bytes, chunk: int, rounds: int) -> float:
    """Microseconds to pass one request head of `head` through the cookie drop, fed in `chunk`-byte reads."""
    began = time.perf_counter()
    for _ in range(rounds):
        drop = CookieDrop()
        for i in range(0, len(head), chunk):
            drop.feed(head[i : i + chunk])
    return (time.perf_counter() - began) / rounds * 1e6


def parse_cost(head: bytes, rounds: int) -> float:
    """Microseconds for websockets' own HTTP parser to read the same head: the baseline for the drop."""
    began = time.perf_counter()
    for _ in range(rounds):
        reader = StreamReader()
        reader.feed_data(head)
        parser = Request.parse(reader.read_line)
        with contextlib.suppress(StopIteration):
            next(parser)
    return (time.perf_counter() - began) / rounds * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--open", type=int, default=20, help="signed-in sockets open when revoking")
    args = parser.parse_args()
    with served() as server:
        url, token = server.url, server.token
        session = new_session(url, token)
        bearer_open, bearer_ping = asyncio.run(handshakes(url, credentials(url, token, None), args.connections))
        session_open, session_ping = asyncio.run(handshakes(url, credentials(url, token, session), args.connections))
        print(f"open a socket: session {session_open:.2f} ms   bearer (baseline) {bearer_open:.2f} ms")
        print(f"ping round trip: session {session_ping:.3f} ms   bearer (baseline) {bearer_ping:.3f} ms")
        sessions = [new_session(url, token) for _ in range(args.open)]
        took = asyncio.run(revoke_closes(url, token, sessions))
        print(f"revoke_sessions to all {args.open} open sockets closed: {took:.1f} ms (limit 1000 ms)")
    print(f"session check per message: {check_cost(200_000):.2f} µs")
    typical = b"GET /ws HTTP/1.1\r\n" + b"".join(b"Header-%d: %s\r\n" % (n, b"v" * 40) for n in range(12)) + b"\r\n"
    bomb = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nCookie: " + b"x" * 620_000 + b"\r\n\r\n"
    print(
        f"cookie drop: a {len(typical)}-byte head {drop_cost(typical, 65536, 20_000):.1f} µs "
        f"(websockets parsing it, baseline: {parse_cost(typical, 20_000):.1f} µs)   "
        f"a 620 KB planted Cookie line {drop_cost(bomb, 65536, 200):.1f} µs (64 KiB reads)"
    )


if __name__ == "__main__":
    main()
