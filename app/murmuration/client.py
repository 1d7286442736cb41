"""The one client of an instance's JSON-RPC socket, shared by the CLI, the tray and the MCP bridge."""

from __future__ import annotations

import asyncio
import itertools
import json
from types import TracebackType
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from murmuration.datafolder import DataFolder


class RpcError(Exception):
    """An error answer from the instance: its JSON-RPC code, sentence and data."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


class InstanceUnavailable(Exception):
    """The instance cannot be reached: not running, refusing us, or gone mid-call."""


def socket_url(url: str) -> str:
    """The WebSocket address of the instance whose dashboard is at `url`."""
    return url.replace("http://", "ws://", 1).rstrip("/") + "/ws"


class InstanceClient:
    """A connection to one instance: calls answered by id, events queued in arrival order."""

    def __init__(self, connection: ClientConnection) -> None:
        self._connection = connection
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, url: str, token: str, timeout: float = 5.0) -> InstanceClient:
        """Connect to the instance at `url` (its http:// address) with its token."""
        try:
            connection = await connect(
                socket_url(url),
                additional_headers={"Authorization": f"Bearer {token}"},
                open_timeout=timeout,
                max_size=None,
            )
        except InvalidStatus as exc:
            raise InstanceUnavailable(f"{url} refused the connection ({exc.response.status_code}).") from exc
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            raise InstanceUnavailable(f"Nothing answers at {url}.") from exc
        return cls(connection)

    @classmethod
    async def for_folder(cls, folder: DataFolder, timeout: float = 5.0) -> InstanceClient:
        """Connect to the server that owns `folder`, as its runtime file tells."""
        runtime = folder.read_runtime()
        if runtime is None:
            raise InstanceUnavailable(f"No server is running for {folder.path}.")
        return await cls.connect(runtime.url, runtime.token, timeout)

    async def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """The result of `method`, or RpcError with the instance's own explanation."""
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        message = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or {}}
        try:
            await self._connection.send(json.dumps(message))
        except ConnectionClosed as exc:
            self._pending.pop(request_id, None)
            raise InstanceUnavailable("The instance closed the connection.") from exc
        return await future

    async def subscribe(self, topics: list[str]) -> None:
        await self.call("subscribe", {"topics": topics})

    async def next_event(self) -> dict[str, Any]:
        """The next event pushed by the instance after `subscribe`."""
        return await self._events.get()

    async def close(self) -> None:
        await self._connection.close()
        await asyncio.gather(self._reader, return_exceptions=True)

    async def __aenter__(self) -> InstanceClient:
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self.close()

    async def _read(self) -> None:
        try:
            async for raw in self._connection:
                self._dispatch(json.loads(raw))
        except ConnectionClosed:
            pass
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(InstanceUnavailable("The instance closed the connection."))
            self._pending.clear()

    def _dispatch(self, message: Any) -> None:
        for item in message if isinstance(message, list) else [message]:
            if item.get("method") == "event":
                self._events.put_nowait(item.get("params", {}))
                continue
            future = self._pending.pop(item.get("id"), None)
            if future is None or future.done():
                continue
            if "error" in item:
                error = item["error"]
                future.set_exception(RpcError(error.get("code", 0), error.get("message", ""), error.get("data")))
            else:
                future.set_result(item.get("result"))
