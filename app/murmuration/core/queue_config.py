"""The queue's settings: how many processes run at once, how big the queue may grow, how retries wait."""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass, fields
from typing import Any

from murmuration.core.store import Store


@dataclass
class QueueConfig:
    """Kept in state.db, so a paused queue stays paused across restarts."""

    max_concurrent: int = 5
    max_queue_size: int = 1000
    max_retries: int = 3
    retry_delay_ms: int = 1000  # the first retry waits this long
    retry_factor: float = 2.0  # each further retry waits this many times longer
    retry_max_delay_ms: int = 60_000  # and never longer than this
    retry_on_exit: bool = False  # retry a process that exits non-zero, not only one that fails to spawn
    paused: bool = False
    max_log_bytes: int = 100 * 1024 * 1024  # each process's log on disk is cut (oldest first) beyond this

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (1 for the first retry)."""
        delay = self.retry_delay_ms * self.retry_factor ** max(0, attempt - 1)
        return min(delay, self.retry_max_delay_ms) / 1000

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def load(cls, store: Store) -> QueueConfig:
        """The stored settings; the defaults on a damaged store that cannot tell them (it runs nothing anyway)."""
        try:
            row = store.db.execute("SELECT * FROM queue_config WHERE id = 1").fetchone()
        except sqlite3.DatabaseError:
            if store.damage is None:
                raise
            return cls()
        values = {f.name: row[f.name] for f in fields(cls)}
        values["retry_on_exit"] = bool(values["retry_on_exit"])
        values["paused"] = bool(values["paused"])
        return cls(**values)

    def save(self, store: Store) -> None:
        values = self.as_dict()
        assignments = ", ".join(f"{k} = ?" for k in values)
        with store.transaction() as db:
            db.execute(f"UPDATE queue_config SET {assignments} WHERE id = 1", tuple(values.values()))
