"""Floods (server/connections.py, server/request_head.py): a real `murmuration serve` attacked by another process.

The server starts with the soft open-files limit of a usual desktop session (1024), as a user's would; the
attacker, its own process, holds 10,000 unauthenticated connections open (or drips bytes into them), and the
test pings all the while — over a kept connection and over fresh ones — requiring every ping to be answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from murmuration import registry
from murmuration.client import InstanceClient
from murmuration.datafolder import DataFolder
from tests.conftest import ServeProcess, Servers
from tests.pinger import PingLoop

FLOOD = 10_000
USUAL_SOFT_LIMIT = 1024
ATTACK = 12.0  # seconds of attack: more than two handshake timeouts
FLOOD_CLIENT = Path(__file__).with_name("flood_client.py")

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the attacker uses POSIX limits and selectors")


@contextlib.contextmanager
def soft_open_files_limit(limit: int) -> Iterator[None]:
    """Lower this process's soft open-files limit while a child is started, so the child inherits it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(limit, hard), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@dataclass(frozen=True)
class Target:
    """A served instance under attack: its process, data folder, address and token."""

    server: ServeProcess
    folder: DataFolder
    url: str
    port: int
    token: str

    def assert_log_has_no_traceback(self) -> None:
        log = self.folder.server_log.read_text(encoding="utf-8")
        assert "Traceback" not in log, log[-4000:]
        assert "ERROR" not in log, log[-4000:]


def start_target(servers: Servers, cwd: Path) -> Target:
    """A `murmuration serve` started with a usual desktop's soft open-files limit, as a user's would be."""
    cwd.mkdir(parents=True, exist_ok=True)
    folder = registry.create(f"Flooded {cwd.name}", cwd)
    with soft_open_files_limit(USUAL_SOFT_LIMIT):
        server = servers.start("--data-dir", str(folder.path))
    assert server.ready is not None
    runtime = folder.read_runtime()
    assert runtime is not None
    return Target(server, folder, server.ready["url"], int(server.ready["port"]), runtime.token)


@pytest.fixture
def target(servers: Servers, home: Path) -> Target:
    return start_target(servers, home)


@contextlib.asynccontextmanager
async def flood(port: int, mode: str, count: int = FLOOD) -> AsyncIterator[asyncio.subprocess.Process]:
    """The attacker process, once it holds `count` connections; it is stopped (stdin closed) on the way out."""
    attacker = await asyncio.create_subprocess_exec(
        sys.executable,
        str(FLOOD_CLIENT),
        str(port),
        str(count),
        mode,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert attacker.stdout is not None
    assert attacker.stdin is not None
    try:
        line = await asyncio.wait_for(attacker.stdout.readline(), 120)
        assert line.startswith(b"holding "), line
        yield attacker
    finally:
        attacker.stdin.close()
        try:
            await asyncio.wait_for(attacker.wait(), 30)
        except TimeoutError:
            attacker.kill()
            await attacker.wait()


async def held_for(seconds: float) -> None:
    """Let the attack last `seconds`: what is measured is the ping loops running meanwhile, not this wait."""
    await asyncio.sleep(seconds)


@pytest.mark.timeout(300)
async def test_every_authenticated_ping_is_answered_while_10000_unauthenticated_connections_are_held(
    servers: Servers, home: Path
) -> None:
    # The two attacks run one after the other in one test: side by side (two workers) they would only measure
    # how two floods share this machine's CPUs.
    for mode in ("idle", "slowloris"):
        target = start_target(servers, home / mode)
        # Pinged once the flood holds, over a kept connection (tray, dashboard, agent) and over a new one each
        # time (`murmuration ls`); a new connection may wait for the kernel to retry its SYN (see DEADLINE).
        async with (
            flood(target.port, mode),
            PingLoop(target.url, target.token) as kept,
            PingLoop(target.url, target.token, fresh=True) as fresh,
        ):
            await held_for(ATTACK)
        kept.assert_answered()
        fresh.assert_answered(at_least=1)
        # After the attack the server is whole: a new client connects and calls, and nothing crashed into the log.
        async with await InstanceClient.connect(target.url, target.token) as client:
            assert (await client.call("ping"))["pong"] is True
        target.assert_log_has_no_traceback()


@pytest.mark.timeout(120)
async def test_a_handshake_that_never_completes_is_closed_within_seconds(target: Target) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", target.port)
    writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the blank line
    await writer.drain()
    loop = asyncio.get_running_loop()
    start = loop.time()
    assert await asyncio.wait_for(reader.read(), 30) == b""  # closed without an answer
    assert loop.time() - start < 10
    writer.close()


@pytest.mark.timeout(120)
async def test_a_request_sent_in_pieces_is_answered_once_whole(target: Target) -> None:
    # A slow client's request is collected at the door (server/door.py) as its pieces arrive: it gets its answer.
    request = f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{target.port}\r\n\r\n".encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", target.port)
    try:
        for piece in (request[:5], request[5:20], request[20:-2], request[-2:]):
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(0.1)  # the client's pace: each piece arrives on its own
        reply = await asyncio.wait_for(reader.read(), 15)
    finally:
        writer.close()
    assert reply.startswith(b"HTTP/1.1 200 "), reply[:200]
    assert b'"ok": true' in reply


# --- methods, malformed and pipelined requests ----------------------------------------------------------------

HOSTILE_REQUESTS = {
    "POST with a body": (b"POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: 3\r\n\r\nabc", 405),
    "PUT": (b"PUT /ws HTTP/1.1\r\nHost: {host}\r\n\r\n", 405),
    "HEAD": (b"HEAD / HTTP/1.1\r\nHost: {host}\r\n\r\n", 405),
    "OPTIONS *": (b"OPTIONS * HTTP/1.1\r\nHost: {host}\r\n\r\n", 405),
    "DELETE": (b"DELETE /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n", 405),
    "HTTP/2 preface": (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 405),
    "two requests at once": (
        b"GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\nGET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n",
        400,
    ),
    "a frame behind the upgrade": (
        b"GET /ws HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n\x81\x05hello",
        400,
    ),
    "GET with a body": (b"GET /healthz HTTP/1.1\r\nHost: {host}\r\nContent-Length: 5\r\n\r\nhello", 400),
    "chunked GET": (b"GET /healthz HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    "TLS hello": (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400),
    "no target": (b"GET\r\n\r\n", 400),
    "bare LF line ends": (b"GET /healthz HTTP/1.1\nHost: {host}\n\n", 400),
    "absolute form": (b"GET http://{host}/healthz HTTP/1.1\r\nHost: {host}\r\n\r\n", 400),
    "broken IPv6 authority": (b"GET http://[::1/ws HTTP/1.1\r\nHost: {host}\r\n\r\n", 400),
    "authority-like path": (b"GET //[/ws HTTP/1.1\r\nHost: {host}\r\n\r\n", 400),
    "non-ASCII target": ("GET /é HTTP/1.1\r\nHost: {host}\r\n\r\n".encode(), 400),
    "HTTP/0.9 version": (b"GET /healthz HTTP/0.9\r\nHost: {host}\r\n\r\n", 400),
    "header line too long": (b"GET /healthz HTTP/1.1\r\nHost: {host}\r\nX: " + b"a" * 20000 + b"\r\n\r\n", 431),
}


async def exchange(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 15)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


@pytest.mark.timeout(180)
async def test_other_methods_get_405_and_malformed_or_pipelined_requests_400_with_nothing_in_the_log(
    target: Target,
) -> None:
    host = f"127.0.0.1:{target.port}".encode()
    async with PingLoop(target.url, target.token) as pings:
        for name, (template, status) in HOSTILE_REQUESTS.items():
            reply = await exchange(target.port, template.replace(b"{host}", host))
            status_line = reply.split(b"\r\n", 1)[0]
            assert status_line.startswith(f"HTTP/1.1 {status} ".encode()), (name, reply[:300])
            head, _, body = reply.partition(b"\r\n\r\n")
            assert b"content-security-policy: default-src 'self'" in head.lower(), name
            if status == 405:
                assert b"\r\nAllow: GET" in head, name
            assert body.strip(), f"{name}: a refusal without a sentence"
            assert b"Traceback" not in body
    pings.assert_answered(at_least=1)
    # And a plain GET still works after all of them.
    assert (await exchange(target.port, b"GET /healthz HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")).startswith(
        b"HTTP/1.1 200 "
    )
    target.assert_log_has_no_traceback()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/PID/limits")
def test_the_servers_limit_is_the_hard_limit_after_start(target: Target) -> None:
    with open(f"/proc/{target.server.proc.pid}/limits", encoding="ascii") as limits:
        line = next(row for row in limits if row.startswith("Max open files"))
    soft, hard = line.split()[3:5]
    assert soft == hard, line
    assert int(soft) > USUAL_SOFT_LIMIT
