"""Cancelling a request over a real socket: a wait stops at once and frees its slot, a call that changes state
still ends whole, and a cancel that names nothing of its own loses nothing."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from murmuration.client import InstanceClient, socket_url
from murmuration.contract import CANCEL, INVALID_PARAMS, INVALID_REQUEST, MAX_IN_FLIGHT, NOT_FOUND, REQUEST_CANCELLED
from murmuration.server.lifecycle import RunningInstance
from tests.waiting import until_async

SLEEPS = [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(300)"]
IGNORES_TERM = [
    sys.executable,
    "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(300)",
]
LONG = 120  # seconds a wait would last uncancelled: far beyond every deadline below
PROMPTLY = 5.0  # seconds an answer that should come at once may take on a loaded machine


def waits(process_id: str) -> list[tuple[str, dict[str, Any]]]:
    """Each way of waiting on `process_id` that only reads, for LONG seconds."""
    return [
        ("get_process_logs", {"process_id": process_id, "wait_for": {"log": "never printed", "timeout": LONG}}),
        ("get_process_logs", {"process_id": process_id, "wait_for": {"exit": True, "timeout": LONG}}),
        ("wait_for_process", {"process_id": process_id, "port": True, "timeout": LONG}),
    ]


class Raw:
    """A bare JSON-RPC connection: what is sent is exactly what the test wrote, answers are read by id."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.unread: list[dict[str, Any]] = []

    async def send(self, message: object) -> None:
        await self.ws.send(json.dumps(message))

    async def request(self, request_id: int, method: str, params: object) -> None:
        await self.send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})

    async def cancel(self, request_id: object, answer_as: int | None = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": CANCEL, "params": {"id": request_id}}
        await self.send(message if answer_as is None else {**message, "id": answer_as})

    async def answer(self, request_id: int | None, timeout: float = PROMPTLY) -> dict[str, Any]:
        """The answer to `request_id`, keeping any other answer read on the way for later."""
        for kept in self.unread:
            if kept.get("id") == request_id:
                self.unread.remove(kept)
                return kept
        async with asyncio.timeout(timeout):
            while True:
                message = json.loads(await self.ws.recv())
                if isinstance(message, dict) and message.get("id") == request_id:
                    return message
                self.unread.append(message)


@asynccontextmanager
async def raw(instance: RunningInstance) -> AsyncIterator[Raw]:
    headers = {"Authorization": f"Bearer {instance.token}"}
    async with connect(socket_url(instance.url), additional_headers=headers, max_size=None) as ws:
        yield Raw(ws)


async def started(client: InstanceClient, command: list[str]) -> str:
    record = await client.call("start_process", {"command": command, "wait_for": {"log": "up"}})
    return str(record["id"])


async def until_sent(observer: InstanceClient, method: str, calls: int) -> None:
    """Until the instance has begun `calls` calls on some connection whose last call is `method` (what list_agents
    tells of each connection), so that a cancel sent next has a running request to find."""

    async def busiest() -> int:
        agents = (await observer.call("list_agents"))["agents"]
        return max([a["calls"] for a in agents if a["last_call"] == method] or [0])

    await until_async(busiest, f"{calls} calls on the instance", done=lambda n: n >= calls)


async def still_waiting_until_cancelled(connection: Raw, wait_id: int, ping_id: int) -> None:
    """The wait `wait_id` has not ended (a ping is answered and nothing else), and a right cancel ends it now."""
    await connection.request(ping_id, "ping", {})
    assert (await connection.answer(ping_id))["result"]["pong"] is True
    assert connection.unread == []
    await connection.cancel(wait_id)
    assert (await connection.answer(wait_id))["error"]["code"] == REQUEST_CANCELLED


async def state_of(client: InstanceClient, process_id: str) -> str:
    [record] = (await client.call("list_processes", {"ids": [process_id]}))["processes"]
    return str(record["state"])


@pytest.mark.parametrize("way", range(3), ids=["logs-until-a-line", "logs-until-exit", "wait_for_process"])
async def test_a_cancelled_wait_answers_cancelled_at_once_and_the_process_keeps_running(
    instance: RunningInstance, client: InstanceClient, way: int
) -> None:
    process_id = await started(client, SLEEPS)
    method, params = waits(process_id)[way]
    async with raw(instance) as connection:
        await connection.request(1, method, params)
        await connection.cancel(1)
        answer = await connection.answer(1)
    assert answer["error"]["code"] == REQUEST_CANCELLED, answer
    assert method in answer["error"]["message"]
    assert await state_of(client, process_id) == "running"


async def test_cancelled_waits_give_back_every_slot_of_their_connection(
    instance: RunningInstance, client: InstanceClient
) -> None:
    process_id = await started(client, SLEEPS)
    method, params = waits(process_id)[0]
    async with raw(instance) as connection:
        ids = range(1, MAX_IN_FLIGHT + 1)
        for request_id in ids:
            await connection.request(request_id, method, params)
        # Every slot holds a wait now: the cancels must still be read, and each wait end at once.
        for request_id in ids:
            await connection.cancel(request_id)
        for request_id in ids:
            assert (await connection.answer(request_id))["error"]["code"] == REQUEST_CANCELLED
        # A full set of new calls runs at once: none waits behind a wait that was cancelled.
        for request_id in ids:
            await connection.request(100 + request_id, "ping", {})
        for request_id in ids:
            assert (await connection.answer(100 + request_id))["result"]["pong"] is True


async def test_cancelled_calls_of_the_client_end_on_the_instance_even_past_its_limit(
    instance: RunningInstance, client: InstanceClient
) -> None:
    process_id = await started(client, SLEEPS)
    method, params = waits(process_id)[1]
    async with await InstanceClient.connect(instance.url, instance.token) as caller:
        calls = [asyncio.create_task(caller.call(method, params)) for _ in range(MAX_IN_FLIGHT + 4)]
        await until_sent(client, method, MAX_IN_FLIGHT)  # all the instance takes; the 4 more wait in the client
        for call in calls:
            call.cancel()
        cancelled = await asyncio.gather(*calls, return_exceptions=True)
        assert all(isinstance(r, asyncio.CancelledError) for r in cancelled)
        # Had the waits gone on running on the instance, these would queue behind them for LONG seconds.
        pings = [caller.call("ping") for _ in range(MAX_IN_FLIGHT)]
        async with asyncio.timeout(PROMPTLY):
            assert all(pong["pong"] for pong in await asyncio.gather(*pings))
    assert await state_of(client, process_id) == "running"


async def test_a_cancelled_stop_still_kills_after_its_timeout_and_answers(
    instance: RunningInstance, client: InstanceClient
) -> None:
    process_id = await started(client, IGNORES_TERM)
    async with raw(instance) as connection:
        await connection.request(1, "stop_process", {"process_id": process_id, "timeout": 1000})
        await connection.cancel(1, answer_as=2)
        assert (await connection.answer(2))["result"] == {"id": 1, "cancelled": False}
        stopped = await connection.answer(1, timeout=15)
    assert stopped["result"]["state"] in ("stopped", "killed"), stopped
    assert await state_of(client, process_id) in ("stopped", "killed")


async def test_a_stop_whose_connection_closes_still_kills_after_its_timeout(
    instance: RunningInstance, client: InstanceClient
) -> None:
    process_id = await started(client, IGNORES_TERM)
    async with raw(instance) as connection:
        await connection.request(1, "stop_process", {"process_id": process_id, "timeout": 1000})
        await until_async(lambda: state_of(client, process_id), "the stop to begin", done=lambda s: s == "stopping")
    # The caller is gone; the process ignores TERM, so only the stop's own KILL after 1 s ends it.
    state = await until_async(
        lambda: state_of(client, process_id), "the KILL after the timeout", done=lambda s: s != "stopping", timeout=15
    )
    assert state in ("stopped", "killed")


async def test_a_cancelled_start_still_starts_records_and_answers(
    instance: RunningInstance, client: InstanceClient
) -> None:
    params = {"command": SLEEPS, "wait_for": {"log": "never printed", "timeout": 1}}
    async with raw(instance) as connection:
        await connection.request(1, "start_process", params)
        await connection.cancel(1, answer_as=2)
        assert (await connection.answer(2))["result"] == {"id": 1, "cancelled": False}
        started_one = (await connection.answer(1, timeout=15))["result"]
    assert started_one["wait"]["reason"] == "timeout", started_one
    assert await state_of(client, started_one["id"]) == "running"


@pytest.mark.parametrize(
    ("params", "code", "field"),
    [
        ({}, INVALID_PARAMS, "id"),
        ({"id": 1.5}, INVALID_PARAMS, "id"),
        ({"id": True}, INVALID_PARAMS, "id"),
        ({"id": None}, INVALID_PARAMS, "id"),
        ({"id": {"id": 1}}, INVALID_PARAMS, "id"),
        ({"id": [1]}, INVALID_PARAMS, "id"),
        ({"id": 1, "force": True}, INVALID_PARAMS, "force"),
        ({"id": 999}, NOT_FOUND, "id"),
        ({"id": "1"}, NOT_FOUND, "id"),  # the wait's id is the number 1, not the text
        ({"id": "x" * 5000}, NOT_FOUND, "id"),  # too long for the quick path: answered within the limit
        ([1], INVALID_PARAMS, "params"),
    ],
)
async def test_a_cancel_that_names_no_request_of_its_own_gets_an_error_and_loses_nothing(
    instance: RunningInstance, client: InstanceClient, params: object, code: int, field: str
) -> None:
    process_id = await started(client, SLEEPS)
    method, wait = waits(process_id)[0]
    async with raw(instance) as connection:
        await connection.request(1, method, wait)
        await connection.request(2, CANCEL, params)
        refused = (await connection.answer(2))["error"]
        assert (refused["code"], refused["data"]["field"]) == (code, field), refused
        assert refused["message"].endswith(".")
        assert len(refused["message"]) < 200
        # As a notification it is answered by nothing at all: the next answer is the ping's.
        await connection.send({"jsonrpc": "2.0", "method": CANCEL, "params": params})
        # The wait was still running all along: a right cancel ends it.
        await still_waiting_until_cancelled(connection, 1, ping_id=3)


async def test_a_cancel_cannot_reach_another_connections_request(
    instance: RunningInstance, client: InstanceClient
) -> None:
    process_id = await started(client, SLEEPS)
    method, wait = waits(process_id)[0]
    async with raw(instance) as waiter, raw(instance) as other:
        await waiter.request(1, method, wait)
        await until_sent(client, method, 1)
        await other.cancel(1, answer_as=7)
        assert (await other.answer(7))["error"]["code"] == NOT_FOUND
        await other.cancel(1)
        await still_waiting_until_cancelled(waiter, 1, ping_id=2)


async def test_a_batch_of_cancels_is_bounded_like_any_batch_and_loses_nothing(
    instance: RunningInstance, client: InstanceClient
) -> None:
    process_id = await started(client, SLEEPS)
    method, wait = waits(process_id)[0]
    cancels = [{"jsonrpc": "2.0", "method": CANCEL, "params": {"id": n}} for n in range(1000, 2000)]
    async with raw(instance) as connection:
        await connection.request(1, method, wait)
        await connection.send(cancels)
        too_many = await connection.answer(None)
        assert too_many["error"]["code"] == INVALID_REQUEST
        await connection.send(cancels[:100])  # within the limit, notifications of nothing running: no answer
        await connection.send([*cancels[:99], {"jsonrpc": "2.0", "id": 2, "method": CANCEL, "params": {"id": 1}}])
        # Two answers, in either order: the batch's (its one request) and the wait's, cancelled by it.
        answers = [json.loads(await asyncio.wait_for(connection.ws.recv(), PROMPTLY)) for _ in range(2)]
        assert [{"jsonrpc": "2.0", "id": 2, "result": {"id": 1, "cancelled": True}}] in answers
        assert any(isinstance(a, dict) and a["error"]["code"] == REQUEST_CANCELLED for a in answers), answers
        await connection.request(3, "ping", {})
        assert (await connection.answer(3))["result"]["pong"] is True
