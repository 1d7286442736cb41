"""The knowledge base of one instance: its issue board, milestone and fragments, in one store."""

from __future__ import annotations

from pathlib import Path

from murmuration.core.events import EventBus
from murmuration.core.fragments import Fragments
from murmuration.core.issues import IssueBoard
from murmuration.core.milestone import Milestone
from murmuration.core.schema import MIGRATIONS
from murmuration.core.store import Store


class KnowledgeBase:
    """Issues, the milestone and fragments of one data folder's state.db."""

    def __init__(self, store: Store, events: EventBus) -> None:
        self.store = store
        # Whoever listens (the dashboard) learns at once that the instance went read-only.
        store.on_damage = lambda reason: events.publish("instance", action="damaged", reason=reason)
        self.issues = IssueBoard(store, events)
        self.milestone = Milestone(store, events)
        self.fragments = Fragments(store, events)

    @classmethod
    def open(cls, path: Path, events: EventBus) -> KnowledgeBase:
        """Open (creating or upgrading) the database at `path`."""
        return cls(Store(path, MIGRATIONS), events)

    def close(self) -> None:
        self.store.close()
