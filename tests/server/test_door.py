"""The door (server/door.py): its budget of waiting callers, and its thread, which works while the loop cannot.

An instance served in the test's own event loop, attacked over real sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import socket
import sys
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from murmuration import registry
from murmuration.client import InstanceClient
from murmuration.server import door
from murmuration.server.connections import Budget
from murmuration.server.lifecycle import RunningInstance, running_instance
from murmuration.server.request_head import Refusal
from tests.server.test_floods import flood, soft_open_files_limit
from tests.waiting import until_async

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="sizes the door from a POSIX open-files limit")

SMALL_LIMIT = 600  # open files: a door of a few dozen callers (Budget.for_files)
DRIP = 0.2  # seconds between the bytes each dripping caller sends


@dataclass
class SmallDoor:
    instance: RunningInstance
    budget: int  # callers the door holds at once


@pytest.fixture
async def small_door(home: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SmallDoor]:
    """An instance started under a low open-files limit, whose door therefore holds only a few dozen callers."""
    # Only the budget may close a caller here: not its deadline, however slow this machine is today.
    monkeypatch.setattr(door, "HANDSHAKE_TIMEOUT", 300.0)
    folder = registry.create("Small door", home)
    async with contextlib.AsyncExitStack() as stack:
        with soft_open_files_limit(SMALL_LIMIT):  # read once, as the instance starts
            instance = await stack.enter_async_context(running_instance(folder, port_range=range(0)))
        yield SmallDoor(instance, Budget.for_files(SMALL_LIMIT).max_pending)


@dataclass
class Dripping:
    """Callers that each send a request one byte at a time and never finish it, oldest first."""

    port: int
    streams: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]

    async def open_one(self) -> None:
        # Each connect completes before the next starts, so the door accepts them in this order.
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(b"GET /ws HTTP/1.1\r\nX-Slow: ")
        await writer.drain()
        self.streams.append((reader, writer))

    async def drip(self) -> None:
        while True:
            for _, writer in self.streams:
                if not writer.is_closing():
                    writer.write(b"a")
            await asyncio.sleep(DRIP)  # the attacker's pace


async def closed(reader: asyncio.StreamReader) -> None:
    """Returns once the server has closed this caller (it never answers one that is dropped)."""
    with contextlib.suppress(ConnectionError):
        assert await reader.read() == b""


@pytest.mark.timeout(120)
async def test_a_full_door_drops_its_oldest_caller_and_a_real_client_still_pings(small_door: SmallDoor) -> None:
    assert 10 < small_door.budget < 100
    attack = Dripping(small_door.instance.ctx.port, [])
    for _ in range(small_door.budget):
        await attack.open_one()
    dripping = asyncio.create_task(attack.drip())
    closing = {asyncio.create_task(closed(reader)): age for age, (reader, _) in enumerate(attack.streams)}
    try:
        # One more than the door holds: the oldest caller makes room, and no other.
        await attack.open_one()
        done, _ = await asyncio.wait(closing, timeout=60, return_when=asyncio.FIRST_COMPLETED)
        assert sorted(closing.pop(task) for task in done) == [0]
        # A real client arrives at a full door too: it is the newest, so the next oldest makes room for it.
        async with await InstanceClient.connect(small_door.instance.url, small_door.instance.token) as client:
            assert (await client.call("ping"))["pong"] is True
        done, _ = await asyncio.wait(closing, timeout=60, return_when=asyncio.FIRST_COMPLETED)
        assert sorted(closing.pop(task) for task in done) == [1]
        assert not any(task.done() for task in closing)
    finally:
        dripping.cancel()
        for task in closing:
            task.cancel()
        for _, writer in attack.streams:
            writer.close()


def refused_and_dropped(port: int) -> tuple[bytes, bytes]:
    """At the door over blocking sockets: a POST's whole answer, then what a silent caller reads until closed."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as poster:
        poster.sendall(f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\n\r\n".encode())
        answer = b""
        while chunk := poster.recv(65536):
            answer += chunk
    with socket.create_connection(("127.0.0.1", port), timeout=30) as silent:
        left_with = silent.recv(1)  # b"" once its deadline has passed
    return answer, left_with


@pytest.mark.timeout(120)
async def test_the_door_refuses_and_drops_callers_while_the_event_loop_is_held(instance: RunningInstance) -> None:
    # A flood must not cost the loop its turns, so the door keeps working without it: here the loop is held
    # outright (this blocking call is on it) while another thread calls at the door.
    with ThreadPoolExecutor(1) as pool:
        answer, left_with = pool.submit(refused_and_dropped, instance.ctx.port).result(timeout=90)
    assert answer.startswith(b"HTTP/1.1 405 "), answer[:200]
    assert left_with == b""


@contextlib.contextmanager
def full_descriptor_table() -> Iterator[None]:
    """This process can open no more files or sockets: every descriptor below its soft limit is taken."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    highest = max(int(fd) for fd in os.listdir("/proc/self/fd"))
    resource.setrlimit(resource.RLIMIT_NOFILE, (highest + 1, hard))
    fillers: list[int] = []
    try:
        with contextlib.suppress(OSError):  # EMFILE: full
            while True:
                fillers.append(os.dup(2))  # each takes the lowest free number: the holes first
        yield
    finally:
        for fd in fillers:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def no_answer(refusal: Refusal) -> bytes:
    raise AssertionError(f"nothing here is refused, yet: {refusal}")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads this process's descriptors in /proc/self/fd")
@pytest.mark.timeout(120)
async def test_when_descriptors_run_out_the_oldest_caller_makes_room_for_a_new_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A door alone, in this process, so that this process's descriptor table is the one that runs out; the
    # attacker is another process, and the real client's socket is made while there is still room.
    monkeypatch.setattr(door, "HANDSHAKE_TIMEOUT", 300.0)  # only want of room may close a caller here
    loop = asyncio.get_running_loop()
    heard: asyncio.Future[bytes] = loop.create_future()

    async def let_in(sock: socket.socket, head: bytes) -> None:
        sock.close()
        heard.set_result(head)

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    at_the_door = door.Door(1000, let_in, no_answer)
    await at_the_door.open(listener)
    newest = socket.socket()
    newest.setblocking(False)
    request = f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    try:
        async with flood(port, "idle", count=50):
            await until_async(lambda: at_the_door.pending, "the door to hold the flood", done=lambda n: n == 50)
            with full_descriptor_table():
                await loop.sock_connect(newest, ("127.0.0.1", port))
                await loop.sock_sendall(newest, request)
                assert await asyncio.wait_for(heard, 30) == request
            assert at_the_door.dropped >= 1
            assert at_the_door.pending <= 50
    finally:
        newest.close()
        at_the_door.close()
        await at_the_door.wait_closed()
