"""The door: where a connection waits, as little more than a socket, until its request head is whole.

Anyone on the machine can open a TCP connection to an instance and then say nothing, or say it one byte at a
time, ten thousand times over. So a new connection is only an asyncio transport and a `Caller` (its bytes so
far); nothing of websockets exists for it yet, because websockets builds a protocol, a connection, a parser
generator, futures and a logger for every socket it accepts — objects that hold each other in cycles, so that a
flood's dropped connections pile up for the garbage collector, whose full passes over them stopped the serving
loop for most of a second. A connection is *let in* to websockets once `request_head.py` has seen a complete,
acceptable request, or answered at the door with a refusal (405, 400, 431) and closed.

Callers have a budget of their own (`max_pending`, oldest dropped first) and a deadline each of
HANDSHAKE_TIMEOUT, give or take a quarter. Deadlines are kept in buckets of TICK seconds swept by one timer that
runs only while someone waits, so holding ten thousand callers costs no timer each, and expiring them costs
work in proportion to how many expire.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
from collections import OrderedDict, deque
from collections.abc import Callable

from murmuration.server.cookie_drop import CookieDrop
from murmuration.server.request_head import Refusal, RequestScreen

log = logging.getLogger("murmuration.door")

HANDSHAKE_TIMEOUT = 5.0  # seconds from accept to a complete request
TICK = 0.25  # seconds: how finely deadlines are kept
ACCEPT_BATCH = 64  # connections accepted per turn of the event loop: as many as are dropped, so churn keeps up
READS_PER_TURN = 64  # callers read again per turn of the event loop
DROPS_PER_TURN = 64  # callers dropped at their deadline per turn of the event loop


def handshake_time() -> float:
    """How long one connection may take to send its request: HANDSHAKE_TIMEOUT, give or take a quarter.

    The spread matters under a flood: connections that arrived together would otherwise all expire together
    and come back together, filling the kernel's accept queue in bursts that a real client's connect hits.
    """
    return HANDSHAKE_TIMEOUT * random.uniform(0.75, 1.25)


class Caller(asyncio.Protocol):
    """One connection at the door: its transport, the bytes of its request so far, and when its time is up."""

    __slots__ = ("_cookies", "_door", "_screen", "due", "transport")

    def __init__(self, door: Door) -> None:
        self._door = door
        self.transport: asyncio.Transport | None = None
        # Made at the first byte: a silent connection, the commonest in a flood, never needs them.
        self._screen: RequestScreen | None = None
        self._cookies: CookieDrop | None = None
        self.due = 0  # the tick at which it is dropped

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        # Read at once: a real client's request is already on its way, and a turn in a queue behind ten thousand
        # callers could outlast its deadline.
        self._door.arrived(self)

    def data_received(self, data: bytes) -> None:
        if self._screen is None or self._cookies is None:
            self._screen, self._cookies = RequestScreen(), CookieDrop()
        # Cookies go before the screen sees the head: planted in bulk by another port, they must not fill it.
        data = self._cookies.feed(data)
        if data:
            verdict = self._screen.feed(data)
            if verdict is not None:
                self._door.heard(self, verdict)
                return
        self._door.read_in_turn(self)

    def eof_received(self) -> None:
        return None  # the transport closes: a half-sent request stays unanswered

    def connection_lost(self, exc: Exception | None) -> None:
        self._door.left(self)
        self.transport = None  # asyncio lets go of us too: nothing is left for the garbage collector


class Door:
    """Holds the callers of one listening socket within a budget, and lets each in, refuses it or drops it.

    `let_in(transport, head)` takes over a connection whose request head is whole and acceptable;
    `render(refusal)` gives the bytes that answer one that is not.
    """

    def __init__(
        self, max_pending: int, let_in: Callable[[asyncio.Transport, bytes], None], render: Callable[[Refusal], bytes]
    ) -> None:
        self.max_pending = max_pending
        self._let_in = let_in
        self._render = render
        # Oldest first. An OrderedDict because a plain dict slows down when entries keep leaving from its front.
        self._callers: OrderedDict[Caller, None] = OrderedDict()
        self._due: dict[int, set[Caller]] = {}
        self._sweep: asyncio.TimerHandle | None = None
        self._turns: deque[Caller] = deque()  # callers not being read, in the order they are read again
        self._taking_turns = False
        self._server: asyncio.Server | None = None
        self.dropped = 0  # callers pushed out by newer ones, for the log and the tests

    @property
    def pending(self) -> int:
        return len(self._callers)

    async def open(self, sock: socket.socket) -> asyncio.Server:
        """Accept on `sock`, the listening socket that won the port, at most ACCEPT_BATCH per turn of the loop."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: Caller(self), sock=sock, backlog=ACCEPT_BATCH)
        # asyncio accepts up to `backlog` connections per turn and also passes it to listen(); a small batch keeps
        # a flood of connects from holding up the answers to clients already in, and the kernel's queue is then
        # set back to its longest, so a burst of connects waits instead of being dropped.
        sock.listen(socket.SOMAXCONN)
        return self._server

    def close(self) -> None:
        """Stop accepting and drop every caller (connections already let in are not the door's to close)."""
        if self._server is not None:
            self._server.close()
        while self._callers:
            self._drop(next(iter(self._callers)))
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        self._turns.clear()

    def arrived(self, caller: Caller) -> None:
        """A new connection; over budget, the oldest caller is dropped to make room."""
        loop = asyncio.get_running_loop()
        caller.due = int((loop.time() + handshake_time()) / TICK) + 1
        self._callers[caller] = None
        self._due.setdefault(caller.due, set()).add(caller)
        if self._sweep is None:
            self._sweep = loop.call_later(TICK, self._expire)
        while len(self._callers) > self.max_pending:
            self.dropped += 1
            if self.dropped % 1000 == 1:
                log.warning("dropping stalled handshakes: more than %d pending", self.max_pending)
            self._drop(next(iter(self._callers)))

    def read_in_turn(self, caller: Caller) -> None:
        """After a read that left its request unfinished, stop reading `caller` until its turn comes again, at most
        READS_PER_TURN callers each turn of the loop.

        A slowloris's connections all become readable at once each time it drips a byte into every one of them;
        those read in turns are not read all in one turn while a signed-in ping waits behind them. Their bytes wait
        in the kernel meanwhile; a real client, whose request comes whole in its first read, never waits here.
        """
        assert caller.transport is not None
        caller.transport.pause_reading()
        self._turns.append(caller)
        if not self._taking_turns:
            self._taking_turns = True
            asyncio.get_running_loop().call_soon(self._next_turns)

    def _next_turns(self) -> None:
        for _ in range(min(READS_PER_TURN, len(self._turns))):
            caller = self._turns.popleft()
            if caller.transport is not None and caller in self._callers:
                caller.transport.resume_reading()
        if self._turns:
            asyncio.get_running_loop().call_soon(self._next_turns)
        else:
            self._taking_turns = False

    def heard(self, caller: Caller, verdict: bytes | Refusal) -> None:
        """A caller's request head is whole: let it in, or answer its refusal and close it."""
        transport = caller.transport
        self._forget(caller)
        if transport is None or transport.is_closing():
            return
        if isinstance(verdict, Refusal):
            transport.write(self._render(verdict))
            transport.close()
            return
        caller.transport = None
        self._let_in(transport, verdict)

    def left(self, caller: Caller) -> None:
        """A caller's connection closed, from either end."""
        self._forget(caller)

    def _forget(self, caller: Caller) -> None:
        if caller in self._callers:
            del self._callers[caller]
            bucket = self._due.get(caller.due)
            if bucket is not None:
                bucket.discard(caller)
                if not bucket:
                    del self._due[caller.due]

    def _drop(self, caller: Caller) -> None:
        transport = caller.transport
        self._forget(caller)
        if transport is not None:
            transport.abort()

    def _expire(self) -> None:
        """Drop callers whose time is up, at most DROPS_PER_TURN each turn; then come back in a tick while any wait.

        Closing a socket costs the kernel real work, and a flood's connections come due by the thousand: dropped
        all in one turn, they would hold up the loop as much as reading them all at once would.
        """
        loop = asyncio.get_running_loop()
        self._sweep = None
        now = int(loop.time() / TICK)
        budget = DROPS_PER_TURN
        for tick in sorted(tick for tick in self._due if tick <= now):
            bucket = self._due[tick]
            while bucket and budget:
                self._drop(next(iter(bucket)))
                budget -= 1
            if not budget:
                self._sweep = loop.call_later(0, self._expire)  # the rest next turn
                return
        if self._callers:
            self._sweep = loop.call_later(TICK, self._expire)
