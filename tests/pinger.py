"""A ping loop beside an attack: proof that a server kept answering authenticated clients all along.

`PingLoop` pings an instance over and over until it is stopped — over one connection kept open, as the tray
and the dashboard do, or over a fresh connection each time, as `murmuration ls` and a starting agent do — and
records how long each ping took and every one that failed or ran past its deadline.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from types import TracebackType

from murmuration.client import InstanceClient

# Seconds a ping may take before it counts as failed: a new connection may wait for the kernel to retry its SYN
# (after 1 s, then 2 s more) when another process has filled the accept queue.
DEADLINE = 10.0
PACE = 0.02  # seconds between pings: steady pressure without spinning


@dataclass
class PingLoop:
    url: str
    token: str
    fresh: bool = False  # a new connection for every ping
    deadline: float = DEADLINE
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def __aenter__(self) -> PingLoop:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        assert self._task is not None
        await self._task

    async def _run(self) -> None:
        client: InstanceClient | None = None
        try:
            while not self._stop.is_set():
                start = time.perf_counter()
                try:
                    async with asyncio.timeout(self.deadline):
                        if client is None:
                            client = await InstanceClient.connect(self.url, self.token, timeout=self.deadline)
                        reply = await client.call("ping")
                    assert reply["pong"] is True, reply
                    self.latencies.append(time.perf_counter() - start)
                except Exception as exc:  # every way a ping can fail is what this loop is here to count
                    self.failures.append(
                        f"{type(exc).__name__}: {exc} after {time.perf_counter() - start:.2f} s "
                        f"({'connecting' if client is None else 'calling'})"
                    )
                    if client is not None:
                        await client.close()
                    client = None
                if self.fresh and client is not None:
                    await client.close()
                    client = None
                with_pause = asyncio.create_task(self._stop.wait())
                await asyncio.wait([with_pause], timeout=PACE)
                with_pause.cancel()
        finally:
            if client is not None:
                await client.close()

    def p99(self) -> float:
        """The 99th percentile latency in seconds."""
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]

    def assert_answered(self, at_least: int = 10) -> None:
        """Fail unless every ping was answered in time and there were enough of them to mean something."""
        total = len(self.failures) + len(self.latencies)
        assert not self.failures, f"{len(self.failures)} of {total} pings failed: {self.failures[:5]}"
        assert len(self.latencies) >= at_least, (
            f"only {len(self.latencies)} pings in the whole attack: {self.latencies}"
        )
