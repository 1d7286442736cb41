"""Reservations: a session's hold on paths and names, so two agents do not edit or run the same thing at once.

A reservation is granted whole or not at all. Shared ones coexist; an exclusive one coexists with nothing that
overlaps it — except the same session's own. It ends on release, when its session ends, when the process it
was taken for ends, or at its time to live, whichever comes first: it is tied to the holder's life, not only to
a timer, so nothing stays held by the dead. Reservations live in memory: a restart ends every session, and
with them every reservation.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from murmuration.core import clock, fields
from murmuration.core.agents import Agents, Caller, Session
from murmuration.core.errors import Conflict, Invalid, NotFound
from murmuration.core.events import EventBus
from murmuration.core.process_records import FINAL
from murmuration.core.resources import Resource, resource

MAX_TTL = 24 * 3600.0  # seconds
MAX_REASON = 500
# A process has ended for good in one of these (a failed attempt waiting in the queue to retry has not).
ENDED_STATES = FINAL


@dataclass
class Reservation:
    """A hold granted to one session on some resources."""

    id: str
    session_id: str
    holder: str
    resources: tuple[Resource, ...]
    exclusive: bool
    reason: str
    granted_at: str
    process_id: str | None = None
    expires_at: str | None = None
    deadline: float | None = None  # time.monotonic() at which the ttl runs out
    timer: asyncio.TimerHandle | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "holder": self.holder,
            "session": self.session_id,
            "resources": [r.text for r in self.resources],
            "exclusive": self.exclusive,
            "reason": self.reason,
            "for_process": self.process_id,
            "granted_at": self.granted_at,
            "expires_at": self.expires_at,
        }


def resources(values: list[str], field: str = "resources") -> tuple[Resource, ...]:
    """Parsed `values`; Invalid for an empty list or any bad one (naming which)."""
    if not values:
        raise Invalid("Give at least one resource: a path glob like src/db/** or a name like port:5432.", field)
    return tuple(resource(value, f"{field}.{index}") for index, value in enumerate(values))


class Reservations:
    """Every reservation held now, granted and ended atomically."""

    def __init__(self, events: EventBus, agents: Agents) -> None:
        self.events = events
        self._held: dict[str, Reservation] = {}
        self._numbers = itertools.count(1)
        agents.on_end(self._session_ended)
        events.listen("process", self._process_event)

    def reserve(
        self,
        caller: Caller,
        wanted: list[str],
        reason: str = "",
        exclusive: bool = True,
        ttl: float | None = None,
        process_id: str | None = None,
    ) -> Reservation:
        """Grant all of `wanted` to `caller`, or nothing: Conflict names the holder of each clash."""
        if caller.session_id is None or caller.name is None:
            raise Invalid("Only a connected session can hold a reservation.", "resources")
        parsed = resources(wanted)
        reason = fields.title(reason, "reason") if reason.strip() else ""
        if len(reason) > MAX_REASON:
            raise Invalid(f"The reason can have at most {MAX_REASON} characters.", "reason")
        if ttl is not None and not 0 < ttl <= MAX_TTL:
            raise Invalid(f"The ttl must be more than 0 and at most {MAX_TTL:.0f} seconds (a day).", "ttl")
        clashes = self.conflicts(caller, parsed, exclusive)
        if clashes:
            raise Conflict(_refusal(clashes), "resources", {"conflicts": clashes})
        granted = Reservation(
            id=f"R{next(self._numbers)}",
            session_id=caller.session_id,
            holder=caller.name,
            resources=parsed,
            exclusive=exclusive,
            reason=reason,
            granted_at=clock.now(),
            process_id=process_id,
        )
        if ttl is not None:
            granted.deadline = time.monotonic() + ttl
            granted.expires_at = _iso(datetime.now(UTC) + timedelta(seconds=ttl))
            granted.timer = _later(ttl, lambda: self._expire(granted.id))
        self._held[granted.id] = granted
        self.events.publish("reservation", action="granted", reservation=granted.as_dict())
        return granted

    def conflicts(self, caller: Caller, wanted: tuple[Resource, ...], exclusive: bool) -> list[dict[str, Any]]:
        """What stands in the way of `caller` holding `wanted`: one entry per clashing resource and holder."""
        found = []
        for held in self.active():
            if held.session_id == caller.session_id or not (exclusive or held.exclusive):
                continue
            for mine in wanted:
                theirs = next((r for r in held.resources if r.overlaps(mine)), None)
                if theirs is not None:
                    found.append(
                        {
                            "resource": mine.text,
                            "held": theirs.text,
                            "holder": held.holder,
                            "reservation": held.id,
                            "exclusive": held.exclusive,
                            "reason": held.reason,
                            "since": held.granted_at,
                        }
                    )
        return found

    def release(
        self, caller: Caller, reservation_id: str | None = None, field: str = "reservation_id"
    ) -> list[Reservation]:
        """End one reservation (its holder's, or any for a person) or, without an id, all of the caller's; a
        refusal names `field`, where the id came in."""
        if reservation_id is None:
            mine = [r for r in self.active() if r.session_id == caller.session_id]
            return [self._end(r.id, "released") for r in mine]
        held = self._held.get(reservation_id)
        if held is None or _expired(held):
            raise NotFound(
                f"No reservation {reservation_id[:40]!r} is held; get_instance_info with include "
                "['reservations'] shows the ones there are.",
                field,
            )
        if held.session_id != caller.session_id and not caller.is_person:
            raise Conflict(
                f"Reservation {held.id} is {held.holder}'s; only its holder (or a person) can release it.",
                field,
                {"holder": held.holder},
            )
        return [self._end(held.id, "released")]

    def active(self) -> list[Reservation]:
        """The reservations held now, oldest first."""
        for held in [r for r in self._held.values() if _expired(r)]:
            self._end(held.id, "expired")  # its timer may not have run yet
        return list(self._held.values())

    def _end(self, reservation_id: str, why: str) -> Reservation:
        held = self._held.pop(reservation_id)
        if held.timer is not None:
            held.timer.cancel()
        self.events.publish("reservation", action="ended", why=why, reservation=held.as_dict())
        return held

    def _expire(self, reservation_id: str) -> None:
        if reservation_id in self._held:
            self._end(reservation_id, "expired")

    def _session_ended(self, session: Session) -> None:
        for held in [r for r in self._held.values() if r.session_id == session.id]:
            self._end(held.id, "session ended")

    def _process_event(self, event: dict[str, Any]) -> None:
        if event.get("state") in ENDED_STATES:
            for held in [r for r in self._held.values() if r.process_id == event.get("id")]:
                self._end(held.id, "process ended")


def _refusal(clashes: list[dict[str, Any]]) -> str:
    parts = []
    for clash in clashes[:5]:
        how = "exclusively" if clash["exclusive"] else "shared"
        why = f", for {clash['reason']!r}" if clash["reason"] else ""
        parts.append(
            f"{clash['resource']} overlaps {clash['held']}, held {how} by {clash['holder']} "
            f"({clash['reservation']}, since {clash['since']}{why})"
        )
    more = f"; and {len(clashes) - 5} more" if len(clashes) > 5 else ""
    return f"Nothing was reserved: {'; '.join(parts)}{more}. Wait for them to be released, or reserve something else."


def _expired(held: Reservation) -> bool:
    return held.deadline is not None and time.monotonic() >= held.deadline


def _later(delay: float, callback: Callable[[], Any]) -> asyncio.TimerHandle | None:
    """Run `callback` after `delay` seconds on the running loop; without one, expiry is noticed on the next read."""
    try:
        return asyncio.get_running_loop().call_later(delay, callback)
    except RuntimeError:
        return None


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
