"""An in-process event bus: core publishes what changed, subscribers read at their own pace."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

ALL_TOPICS = "*"


class Subscription:
    """One reader's bounded queue of events; a slow reader loses events, never the publisher's time."""

    def __init__(self, bus: EventBus, topics: Iterable[str], capacity: int) -> None:
        self._bus = bus
        self.topics = set(topics)
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(capacity)
        self.dropped = 0

    def wants(self, topic: str) -> bool:
        return ALL_TOPICS in self.topics or topic in self.topics

    def offer(self, event: dict[str, Any]) -> None:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1

    async def next(self) -> dict[str, Any]:
        """The next event; after losses, first an `overflow` event saying how many were lost."""
        if self.dropped and self._queue.empty():
            dropped, self.dropped = self.dropped, 0
            return {"topic": "overflow", "dropped": dropped}
        event = await self._queue.get()
        return event

    def close(self) -> None:
        self._bus.unsubscribe(self)


class EventBus:
    """Fan-out of events by topic to every subscription that asked for it."""

    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []
        self._listeners: list[tuple[str, Callable[[dict[str, Any]], None]]] = []

    def listen(self, topic: str, listener: Callable[[dict[str, Any]], None]) -> None:
        """Call `listener(event)` for every event of `topic`, as it is published: for core's own reactions
        (a process that ends ends its reservations), which must never be lost the way a slow reader's are."""
        self._listeners.append((topic, listener))

    def subscribe(self, topics: Iterable[str], capacity: int = 1000) -> Subscription:
        subscription = Subscription(self, topics, capacity)
        self._subscriptions.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)

    def publish(self, topic: str, **payload: Any) -> None:
        event = {"topic": topic, **payload}
        for wanted, listener in self._listeners:
            if wanted == topic:
                listener(event)
        for subscription in self._subscriptions:
            if subscription.wants(topic):
                subscription.offer(event)
