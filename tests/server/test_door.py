"""The door (server/door.py): its budget of waiting callers, and its thread, which works while the loop cannot.

An instance served in the test's own event loop, attacked over real sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from murmuration import registry
from murmuration.client import InstanceClient
from murmuration.server import door
from murmuration.server.connections import Budget
from murmuration.server.lifecycle import RunningInstance, running_instance
from tests.server.test_floods import soft_open_files_limit

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
