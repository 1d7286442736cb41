"""The one client of an instance's JSON-RPC socket, shared by the CLI, the tray and the MCP bridge."""

from __future__ import annotations

import asyncio
import itertools
import json
from types import TracebackType
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from murmuration.contract import CANCEL, MAX_IN_FLIGHT
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
    """A connection to one instance: calls answered by id, events queued in arrival order.

    A call whose caller is cancelled is forgotten and cancelled on the instance too (a wait stops there; a call that
    changes state runs to its end). Its slot stays taken until the instance answers it: never more than the
    instance's MAX_IN_FLIGHT requests are sent at once, so the instance always reads the next cancel.
    """

    def __init__(self, connection: ClientConnection) -> None:
        self._connection = connection
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._abandoned: set[int] = set()  # sent, then cancelled by their callers: answered, they free a slot
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._cancels: set[asyncio.Task[None]] = set()
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
        await self._slots.acquire()  # cancelled while waiting here, nothing was sent and nothing is held
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        message = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or {}}
        try:
            # websockets writes a text frame before send() can yield (it only waits for a full buffer to drain), so
            # a call cancelled here was sent: there is a request to cancel, and its answer will free the slot.
            await self._connection.send(json.dumps(message))
            return await future
        except ConnectionClosed as exc:
            self._settle(request_id)
            raise InstanceUnavailable("The instance closed the connection.") from exc
        except asyncio.CancelledError:
            self._abandon(request_id)
            raise

    def _settle(self, request_id: int) -> asyncio.Future[Any] | None:
        """Forget call `request_id` and free its slot (once: its answer, a cancel and a closing race for it)."""
        future = self._pending.pop(request_id, None)
        if future is not None or request_id in self._abandoned:
            self._abandoned.discard(request_id)
            self._slots.release()
        return future

    def _abandon(self, request_id: int) -> None:
        """Forget a call its caller gave up on, and tell the instance without making the caller wait."""
        if self._pending.pop(request_id, None) is None:
            return  # answered (or the connection lost) just before the cancel: nothing runs to cancel
        self._abandoned.add(request_id)
        task = asyncio.create_task(self._send_cancel(request_id))
        self._cancels.add(task)
        task.add_done_callback(self._cancels.discard)

    async def _send_cancel(self, request_id: int) -> None:
        try:
            await self._connection.send(json.dumps({"jsonrpc": "2.0", "method": CANCEL, "params": {"id": request_id}}))
        except ConnectionClosed:
            self._settle(request_id)  # no answer will come: the reader's end freed it, or frees it now

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
            for request_id in [*self._pending, *self._abandoned]:
                future = self._settle(request_id)
                if future is not None and not future.done():
                    future.set_exception(InstanceUnavailable("The instance closed the connection."))

    def _dispatch(self, message: Any) -> None:
        for item in message if isinstance(message, list) else [message]:
            if item.get("method") == "event":
                self._events.put_nowait(item.get("params", {}))
                continue
            request_id = item.get("id")
            future = self._settle(request_id) if isinstance(request_id, int) else None
            if future is None or future.done():
                continue
            if "error" in item:
                error = item["error"]
                future.set_exception(RpcError(error.get("code", 0), error.get("message", ""), error.get("data")))
            else:
                future.set_result(item.get("result"))
