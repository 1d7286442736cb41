"""Who is connected: one session per client connection, each known by a name.

An agent names itself (the MCP client's name, or `murmuration mcp --agent NAME`) and gets that name made
unique among the sessions connected now (`claude-code`, `claude-code-2`, …). The dashboard is always
`person`, and a client that never names itself (the CLI, the tray's status checks) is `client`: those two
are roles, shared by every such connection. Sessions live in memory only: a session ends with its
connection, so after a restart nobody is connected until they connect again.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from murmuration.core import clock, fields
from murmuration.core.errors import Conflict, Invalid
from murmuration.core.events import EventBus

AGENT, PERSON, CLIENT = "agent", "person", "client"
KINDS = (AGENT, PERSON, CLIENT)
RESERVED_NAMES = (PERSON, CLIENT)
MAX_NAME = 64
SUFFIX = re.compile(r"-([2-9]|[1-9][0-9]+)$")


@dataclass(frozen=True)
class Caller:
    """Who makes one call: their session (None for the instance's own work) and the name writes record."""

    session_id: str | None
    name: str | None
    kind: str

    @property
    def is_person(self) -> bool:
        return self.kind == PERSON


NOBODY = Caller(None, None, "none")


@dataclass
class Session:
    """One client connection: who it is, since when, and what it last asked for."""

    id: str
    kind: str
    name: str
    connected_at: str
    client: str | None = None
    pid: int | None = None
    last_call: str | None = None
    last_call_at: str | None = None
    calls: int = 0

    @property
    def caller(self) -> Caller:
        return Caller(self.id, self.name, self.kind)

    def as_dict(self) -> dict[str, Any]:
        return {
            "session": self.id,
            "name": self.name,
            "kind": self.kind,
            "client": self.client,
            "pid": self.pid,
            "connected_at": self.connected_at,
            "last_call": self.last_call,
            "last_call_at": self.last_call_at,
            "calls": self.calls,
        }


def agent_name(value: str, field: str = "name") -> str:
    """A name an agent may go by: one line, no control characters, at most MAX_NAME characters, not a role."""
    name = fields.title(value, field)
    if len(name) > MAX_NAME:
        raise Invalid(f"The {field} can have at most {MAX_NAME} characters.", field)
    if name.lower() in RESERVED_NAMES:
        raise Invalid(f"{name!r} names a role (the dashboard, an unnamed client); choose another agent name.", field)
    return name


class Agents:
    """The sessions connected now; tells who is present and what happens when one ends."""

    def __init__(self, events: EventBus) -> None:
        self.events = events
        self._sessions: dict[str, Session] = {}
        self._numbers = itertools.count(1)
        self._on_end: list[Callable[[Session], None]] = []

    def open(self, kind: str) -> Session:
        """A new session for a connection that just opened: `person` for the dashboard, else `client`."""
        if kind not in (PERSON, CLIENT):
            raise ValueError(f"a connection opens as {PERSON} or {CLIENT}, not {kind!r}")
        session = Session(f"S{next(self._numbers)}", kind, kind, clock.now())
        self._sessions[session.id] = session
        self.events.publish("agent", action="connected", agent=session.as_dict())
        return session

    def identify(
        self, session: Session, name: str, client: str | None = None, pid: int | None = None, resume: str | None = None
    ) -> Session:
        """Name `session` after `name`, made unique among the others connected; `resume` keeps the name it had
        before a reconnect when that name is still free."""
        if session.kind == PERSON:
            raise Conflict("The dashboard's connection is always 'person'; it cannot take an agent name.", "name")
        wanted = agent_name(name)
        taken = {s.name for s in self._sessions.values() if s is not session}
        if resume is not None and resume not in taken and _is_variant(agent_name(resume, "resume"), wanted):
            chosen = resume
        elif session.kind == AGENT and _is_variant(session.name, wanted):
            chosen = session.name  # naming itself again keeps the name it has
        else:
            chosen = _unique(wanted, taken)
        session.kind, session.name = AGENT, chosen
        session.client = None if client is None else fields.title(client, "client")[:200]
        session.pid = pid
        self.events.publish("agent", action="identified", agent=session.as_dict())
        return session

    def touch(self, session: Session, method: str) -> None:
        """Remember `method` as the session's last call."""
        session.last_call, session.last_call_at = method, clock.now()
        session.calls += 1
        if session.kind != PERSON:  # the dashboard's own reads would only echo back to it
            self.events.publish("agent", action="call", agent=session.as_dict())

    def close(self, session: Session) -> None:
        """The connection ended: whatever the session held ends with it."""
        if self._sessions.pop(session.id, None) is None:
            return
        for listener in self._on_end:
            listener(session)
        self.events.publish("agent", action="left", agent=session.as_dict())

    def on_end(self, listener: Callable[[Session], None]) -> None:
        """Call `listener(session)` whenever a session ends."""
        self._on_end.append(listener)

    def present(self, name: str) -> bool:
        """Whether a session of that name is connected now."""
        return any(s.name == name for s in self._sessions.values())

    def names(self) -> frozenset[str]:
        """The names of the sessions connected now."""
        return frozenset(s.name for s in self._sessions.values())

    def get(self, session_id: str) -> Session | None:
        return self._sessions.get(session_id)

    def sessions(self) -> list[Session]:
        """The sessions connected now, oldest first."""
        return list(self._sessions.values())


def _is_variant(name: str, base: str) -> bool:
    """Whether `name` is `base` or a numbered copy of it (`base-2`, `base-3`, …)."""
    return name == base or (name.startswith(base + "-") and SUFFIX.fullmatch(name[len(base) :]) is not None)


def _unique(base: str, taken: set[str]) -> str:
    if base not in taken:
        return base
    for number in itertools.count(2):
        candidate = f"{base}-{number}"
        if candidate not in taken:
            return candidate
    raise AssertionError("unreachable")
