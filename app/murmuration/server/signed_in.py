"""The open sockets of each dashboard session: revoking a session closes them, and each message checks it again."""

from __future__ import annotations

import asyncio

from websockets.asyncio.server import ServerConnection

from murmuration.sessions import CLOSE_SIGNED_OUT, Sessions


class SignedInSockets:
    """Which open connection signed in with which session (bearer connections are no sessions and never here)."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions
        self._open: dict[str, set[ServerConnection]] = {}
        self._closing: set[asyncio.Task[None]] = set()
        sessions.on_revoke(self._revoked)

    def admit(self, session: str, websocket: ServerConnection) -> bool:
        """Count the connection in; False when its session ended since the handshake (then close it signed out)."""
        if not self._sessions.touch(session):
            return False
        self._open.setdefault(session, set()).add(websocket)
        return True

    def use(self, session: str) -> bool:
        """Record one message's use; False when the session is revoked or expired (then close it signed out)."""
        return self._sessions.touch(session)

    def leave(self, session: str, websocket: ServerConnection) -> None:
        sockets = self._open.get(session)
        if sockets is not None:
            sockets.discard(websocket)
            if not sockets:
                del self._open[session]

    def _revoked(self, sessions: frozenset[str]) -> None:
        for session in sessions:
            for websocket in self._open.pop(session, ()):
                task = asyncio.ensure_future(close_signed_out(websocket))
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)


async def close_signed_out(websocket: ServerConnection) -> None:
    """Close with the code that tells the page why, so it shows its sign-in notice instead of reconnecting."""
    await websocket.close(CLOSE_SIGNED_OUT, "signed out")
