"""Fixtures of the operation tests: agents as real, named connections to a real instance."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import pytest

from murmuration.client import InstanceClient, RpcError
from murmuration.server.lifecycle import RunningInstance

Connect = Callable[..., Awaitable[InstanceClient]]


@pytest.fixture
async def connect(instance: RunningInstance) -> AsyncIterator[Connect]:
    """Open a named agent connection (or an unnamed client with name=None); all close after the test."""
    async with AsyncExitStack() as stack:

        async def open_one(name: str | None = "agent", **identity: Any) -> InstanceClient:
            client = await stack.enter_async_context(await InstanceClient.connect(instance.url, instance.token))
            if name is not None:
                await client.call("identify", {"name": name, **identity})
            return client

        yield open_one


async def refused(client: InstanceClient, method: str, params: dict[str, Any]) -> RpcError:
    with pytest.raises(RpcError) as caught:
        await client.call(method, params)
    return caught.value


async def event(client: InstanceClient, wanted: Callable[[dict[str, Any]], bool], timeout: float = 10.0) -> Any:
    """The first event pushed to `client` (subscribed beforehand) for which `wanted(event)` holds."""
    async with asyncio.timeout(timeout):
        while True:
            pushed = await client.next_event()
            if wanted(pushed):
                return pushed


async def left(watcher: InstanceClient, name: str, timeout: float = 10.0) -> None:
    """Wait (on `watcher`, subscribed to "agent") for the event saying the session `name` ended."""
    await event(watcher, lambda e: e.get("action") == "left" and e["agent"]["name"] == name, timeout)
