"""Dashboard sessions: random secrets a browser keeps in its own origin's storage and shows at the WebSocket handshake.

A session is not a cookie, because a browser sends cookies for 127.0.0.1 to every port on it; the dashboard keeps
its session in `localStorage` (scoped to scheme, host and port) and offers it as a WebSocket subprotocol value.
Sessions are made only in exchange for a one-time sign-in code, are bound to the Host they were made for, end
after IDLE_LIFETIME seconds without use and can all be revoked at once.

`Sessions` is sans-I/O: it keeps records and decides; `on_change` is told what to save and `on_revoke` which
sessions ended (the server closes their connections). Only a SHA-256 of each secret is kept, in memory or on disk:
the secret has 256 random bits, so the hash can neither be reversed nor guessed, and a leaked file opens nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import stat
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from murmuration.atomicfile import write_json

# Shared with the dashboard's js/session.js (a test keeps the two in step).
PROTOCOL = "murmuration.v1"  # the subprotocol the server selects; never the one carrying the secret
SESSION_PREFIX = "murmuration.session."  # a subprotocol value of this prefix carries the session
CLOSE_SIGNED_OUT = 4001  # the close code of a connection whose session was revoked or expired

IDLE_LIFETIME = 12 * 3600.0  # seconds without use after which a session is gone
MAX_SESSIONS = 100  # the least recently used go first: signing in often cannot grow the book without bound
SAVE_USE_EVERY = 600.0  # seconds: last-use times reach the disk this coarsely, not at every message
FILE_VERSION = 1


@dataclass
class SessionRecord:
    """What is known of one session: never its secret."""

    id: str  # SHA-256 of the secret, hex
    host: str  # the Host it was made for, e.g. 127.0.0.1:8080: the one origin whose storage holds it
    created: float  # seconds since the epoch
    last_used: float


def session_id(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Sessions:
    """The instance's signed-in browsers."""

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        records: Iterable[SessionRecord] = (),
        on_change: Callable[[list[SessionRecord]], None] | None = None,
    ) -> None:
        self.clock = clock  # wall time, as records outlive the process; a test may set its own
        self._on_change = on_change
        self._revoke_listeners: list[Callable[[frozenset[str]], None]] = []
        now = clock()
        # A last use in the future (a clock set back) counts as now, so no session can outlive its idle limit.
        self._records = {r.id: SessionRecord(r.id, r.host, r.created, min(r.last_used, now)) for r in records}
        self._saved_at = now
        if self._forget_expired():
            self._changed()

    def create(self, host: str) -> str:
        """A new session for pages served as `host`; the secret is returned once and never kept."""
        self._forget_expired()
        while len(self._records) >= MAX_SESSIONS:
            del self._records[min(self._records.values(), key=lambda r: r.last_used).id]
        secret = secrets.token_urlsafe(32)
        now = self.clock()
        record = SessionRecord(session_id(secret), host.lower(), now, now)
        self._records[record.id] = record
        self._changed()
        return secret

    def find(self, secret: str, host: str) -> str | None:
        """The id of the live session `secret` for `host`, or None; a lookup is not a use."""
        record = self._records.get(session_id(secret))
        if record is None or record.host != host.lower():
            return None
        return record.id if self._live(record) else None

    def touch(self, session: str) -> bool:
        """Record a use of session id `session`; False when it is revoked or expired (and so must not be used)."""
        record = self._records.get(session)
        if record is None:
            return False
        if not self._live(record):
            self._forget_expired()
            self._changed()
            return False
        record.last_used = self.clock()
        if record.last_used - self._saved_at >= SAVE_USE_EVERY:
            self._changed()
        return True

    def revoke_all(self) -> int:
        """End every session (its open connections are closed by the listeners); how many there were."""
        self._forget_expired()
        ended = frozenset(self._records)
        self._records.clear()
        self._changed()
        for listener in list(self._revoke_listeners):
            listener(ended)
        return len(ended)

    def on_revoke(self, listener: Callable[[frozenset[str]], None]) -> None:
        """Call `listener` with the ids of revoked sessions."""
        self._revoke_listeners.append(listener)

    def summary(self) -> dict[str, Any]:
        """How many sessions are live and when each was made and last used (ISO, UTC), latest use first."""
        self._forget_expired()
        ordered = sorted(self._records.values(), key=lambda r: r.last_used, reverse=True)
        return {
            "count": len(ordered),
            "last_used": _iso(ordered[0].last_used) if ordered else None,
            "idle_lifetime": IDLE_LIFETIME,
            "sessions": [{"created": _iso(r.created), "last_used": _iso(r.last_used)} for r in ordered],
        }

    def records(self) -> list[SessionRecord]:
        return [SessionRecord(**asdict(r)) for r in self._records.values()]

    def _live(self, record: SessionRecord) -> bool:
        return self.clock() - record.last_used < IDLE_LIFETIME

    def _forget_expired(self) -> bool:
        expired = [r.id for r in self._records.values() if not self._live(r)]
        for gone in expired:
            del self._records[gone]
        return bool(expired)

    def _changed(self) -> None:
        self._saved_at = self.clock()
        if self._on_change is not None:
            self._on_change(self.records())


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


# --- on disk ------------------------------------------------------------------------------------------------------


def save_sessions(path: Path, records: list[SessionRecord]) -> None:
    """Write the records (hashes only) atomically, 0600; a rename never writes through a planted symlink."""
    write_json(path, {"version": FILE_VERSION, "sessions": [asdict(r) for r in records]}, mode=0o600)


def load_sessions(path: Path) -> list[SessionRecord]:
    """The saved records; anything missing, odd, not ours or not a regular file counts as no sessions at all.

    Losing sessions only means signing in again, so a doubtful file is never trusted.
    """
    try:
        # No following a link, and no waiting on a FIFO planted in the file's place.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return []
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or (hasattr(os, "getuid") and info.st_uid != os.getuid()):
            return []
        with os.fdopen(fd, "rb", closefd=False) as file:
            raw = json.loads(file.read(1 << 20))
    except (OSError, ValueError):
        return []
    finally:
        os.close(fd)
    if not isinstance(raw, dict) or raw.get("version") != FILE_VERSION or not isinstance(raw.get("sessions"), list):
        return []
    records = []
    for item in raw["sessions"]:
        try:
            record = SessionRecord(str(item["id"]), str(item["host"]), float(item["created"]), float(item["last_used"]))
        except (TypeError, KeyError, ValueError):
            return []
        records.append(record)
    return records
