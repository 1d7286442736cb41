"""The instance server: websockets glue between connections and the operation table."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import Sequence
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from murmuration.core.agents import CLIENT, PERSON
from murmuration.core.events import Subscription
from murmuration.operations import InstanceContext, OperationTable
from murmuration.server.connections import HANDSHAKE_TIMEOUT, Budget, Connections, handshake_time
from murmuration.server.cookie_drop import CookieDrop
from murmuration.server.http import HttpGate, add_security_headers, respond, text
from murmuration.server.request_head import Refusal, RequestScreen
from murmuration.server.rpc import RpcSession
from murmuration.server.signed_in import SignedInSockets, close_signed_out
from murmuration.server.static import Asset
from murmuration.sessions import PROTOCOL

log = logging.getLogger("murmuration.server")

MAX_MESSAGE = 1 << 20  # 1 MiB: larger frames are closed with 1009
MAX_IN_FLIGHT = 16  # requests one connection may have running at once
ACCEPT_BATCH = 16  # connections accepted per turn of the event loop


class InstanceServer:
    """Serves one instance's HTTP routes and JSON-RPC socket on a socket it is handed."""

    def __init__(
        self,
        ctx: InstanceContext,
        table: OperationTable,
        token: str,
        assets: dict[str, Asset],
        budget: Budget | None = None,
    ) -> None:
        self.ctx = ctx
        self.table = table
        self.gate = HttpGate(ctx, token, assets)
        self.connections = Connections(budget or Budget())
        self._server: Server | None = None
        self.signed_in = SignedInSockets(ctx.sessions)

    async def start(self, sock: socket.socket) -> None:
        """Serve on `sock`, the listening socket that won the port (never a second bind)."""
        self._server = await serve(
            self._connection,
            sock=sock,
            process_request=self._process_request,
            process_response=self._process_response,
            select_subprotocol=_select_subprotocol,
            max_size=MAX_MESSAGE,
            open_timeout=HANDSHAKE_TIMEOUT,
            create_connection=_accounted(self.connections),
            backlog=ACCEPT_BATCH,
            server_header=None,
            logger=logging.getLogger("murmuration.websockets"),
        )
        # asyncio accepts up to `backlog` connections per turn of the loop and also passes it to listen(); a
        # small batch keeps a flood of connects from holding up the answers to clients already in, and the
        # kernel's queue is then set back to its longest, so a burst of connects waits instead of being dropped.
        sock.listen(socket.SOMAXCONN)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self.connections.drop_pending()  # websockets does not know them yet, so cannot close them
            await self._server.wait_closed()

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        self.connections.answered(connection)
        response = self.gate.route(request)
        if response is None and not self.connections.admit(connection):
            return text(503, self.connections.full_message())
        return response

    def _process_response(self, connection: ServerConnection, request: Request, response: Response) -> Response:
        return add_security_headers(response)

    async def _connection(self, websocket: ServerConnection) -> None:
        # A browser's session stays checked for the connection's whole life: revoked or expired, it ends here.
        signed_in = self.gate.session_of(websocket.request) if websocket.request else None
        if signed_in is not None and not self.signed_in.admit(signed_in, websocket):
            await close_signed_out(websocket)
            return
        pump: asyncio.Task[None] | None = None

        def on_subscribe(subscription: Subscription) -> None:
            nonlocal pump
            if pump is not None:
                pump.cancel()
            pump = asyncio.create_task(_pump_events(websocket, subscription))

        # The upgrade gate let this connection in with the bearer token (a program; the token decides alone when
        # sent) or a dashboard sign-in (a person): that decides who it is until a program names itself.
        by_token = websocket.request is not None and websocket.request.headers.get("Authorization") is not None
        agent = self.ctx.agents.open(PERSON if signed_in is not None and not by_token else CLIENT)
        session = RpcSession(self.table, self.ctx, on_subscribe, agent)
        in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)
        tasks: set[asyncio.Task[None]] = set()
        try:
            async for message in websocket:
                if signed_in is not None and not self.signed_in.use(signed_in):
                    await close_signed_out(websocket)
                    break
                # Waiting here when the limit is reached stops reading: back-pressure, not a growing backlog.
                await in_flight.acquire()
                task = asyncio.create_task(_answer(websocket, session, message, in_flight))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        except ConnectionClosed:
            pass
        finally:
            if signed_in is not None:
                self.signed_in.leave(signed_in, websocket)
            session.close()
            for task in [*tasks, *([pump] if pump else [])]:
                task.cancel()
            # A dead peer (even one killed with SIGKILL: the kernel closes its socket) ends the loop above at
            # once, so what the session held is let go of here without waiting for a timeout.
            self.ctx.agents.close(agent)


def _select_subprotocol(connection: ServerConnection, offered: Sequence[Subprotocol]) -> Subprotocol | None:
    """Our protocol's name when the page offered it, else none: never the value that carries a session."""
    return Subprotocol(PROTOCOL) if PROTOCOL in offered else None


async def _answer(websocket: ServerConnection, session: RpcSession, message: Any, in_flight: asyncio.Semaphore) -> None:
    try:
        reply = await session.handle(message)
        if reply is not None:
            await websocket.send(reply)
    except ConnectionClosed:
        pass
    finally:
        in_flight.release()


async def _pump_events(websocket: ServerConnection, subscription: Subscription) -> None:
    """Forward a subscription's events to the socket as JSON-RPC notifications."""
    try:
        while True:
            event = await subscription.next()
            notification = {"jsonrpc": "2.0", "method": "event", "params": event}
            await websocket.send(json.dumps(notification, separators=(",", ":")))
    except ConnectionClosed:
        pass


def _accounted(connections: Connections) -> type[ServerConnection]:
    """The connection class websockets builds for each accepted socket, keeping `connections` up to date."""

    class AccountedConnection(ServerConnection):
        """Until its request head is whole and acceptable, a connection is only a transport, a buffer and a timer.

        websockets' own start (a handler task, its futures, the handshake timeout) waits until then: a flood of
        connections that never send a request costs the server next to nothing, and each one it drops is cheap.
        """

        screen: RequestScreen | None = None
        cookie_drop: CookieDrop | None = None
        pending: tuple[asyncio.Transport, asyncio.TimerHandle] | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            assert isinstance(transport, asyncio.Transport)
            timer = asyncio.get_running_loop().call_later(handshake_time(), transport.abort)
            self.screen = RequestScreen()
            self.cookie_drop = CookieDrop()
            self.pending = (transport, timer)
            connections.arrived(self, transport.abort)

        def connection_lost(self, exc: Exception | None) -> None:
            connections.left(self)
            if self.pending is not None:  # websockets never saw this connection
                self.pending[1].cancel()
                self.pending = None
                return
            super().connection_lost(exc)

        def eof_received(self) -> None:
            # Before websockets has it, returning None lets the transport close: a half-sent request stays so.
            if self.pending is None:
                super().eof_received()

        def data_received(self, data: bytes) -> None:
            if self.pending is None:
                super().data_received(data)
                return
            assert self.screen is not None
            assert self.cookie_drop is not None
            # Cookies go before the screen sees the head: planted in bulk by another port, they must not fill it.
            data = self.cookie_drop.feed(data)
            if not data:
                return
            verdict = self.screen.feed(data)
            if verdict is None:
                return
            transport, timer = self.pending
            self.pending = None
            self.screen = self.cookie_drop = None
            if isinstance(verdict, Refusal):
                timer.cancel()
                connections.answered(self)
                transport.write(_refusal(verdict).serialize())
                transport.close()
                self.pending = (transport, timer)  # connection_lost still has nothing of websockets' to end
                return
            timer.cancel()
            super().connection_made(transport)
            super().data_received(verdict)

    return AccountedConnection


def _refusal(refusal: Refusal) -> Response:
    extra = (("Allow", "GET"),) if refusal.allow_get else ()
    body = (refusal.message + "\n").encode()
    return add_security_headers(respond(refusal.status, body, "text/plain; charset=utf-8", extra))
