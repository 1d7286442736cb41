"""The issue board: issues with a status column each (open → in-progress → completed → archived)."""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from typing import Any

from murmuration.core import clock, fields
from murmuration.core.agents import NOBODY, Caller
from murmuration.core.blockers import RESOLVED, UNBLOCKED_SQL, blockers_of, replace_blockers
from murmuration.core.errors import Conflict, Invalid, NotFound
from murmuration.core.events import EventBus
from murmuration.core.filters import Where, page
from murmuration.core.store import Store

STATUSES = ("open", "in-progress", "completed", "archived")
ISSUE_ID = re.compile(r"ISSUE_([1-9][0-9]{0,17})")
MAX_NUMBER = 999_999_999  # imported ids stay below this, so new ones (max + 1) always stay readable
UPDATABLE = ("title", "content", "status", "priority", "tags", "assignee", "due_date", "related_ids", "blocked_by")
# Ready work is handed out highest priority first, oldest first within a priority.
READY_ORDER = "CASE priority WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END, number"


def issue_number(issue_id: str, field: str = "issue_id") -> int:
    """The number in `ISSUE_<n>`; NotFound for anything else, so a malformed id reads as "no such issue"."""
    match = ISSUE_ID.fullmatch(issue_id)
    if match is None:
        raise NotFound(f"No issue has the id {issue_id[:60]!r}; ids look like ISSUE_3.", field)
    return int(match.group(1))


def as_dict(row: sqlite3.Row, blockers: list[tuple[int, str]] | None = None) -> dict[str, Any]:
    """An issue as the operations show it; `blockers` are the issues it waits on, with their status."""
    blockers = blockers or []
    return {
        "id": f"ISSUE_{row['number']}",
        "title": row["title"],
        "content": row["content"],
        "status": row["status"],
        "priority": row["priority"],
        "tags": json.loads(row["tags"]),
        "assignee": row["assignee"],
        "due_date": row["due_date"],
        "related_ids": json.loads(row["related_ids"]),
        "blocked_by": [f"ISSUE_{n}" for n, _ in blockers],
        "waiting_on": [f"ISSUE_{n}" for n, status in blockers if status not in RESOLVED],
        "assigned_at": row["assigned_at"],
        "created_by": row["created_by"],
        "updated_by": row["updated_by"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def holder(issue: dict[str, Any], caller: Caller, present: frozenset[str]) -> str | None:
    """The name of the connected session other than `caller` that holds `issue`, if one does.

    An issue is held by its assignee while a session of that name is connected; one whose holder has left is
    free for the next claim.
    """
    assignee = issue["assignee"]
    return assignee if assignee is not None and assignee != caller.name and assignee in present else None


@dataclass
class IssueFilter:
    """What `list_issues` keeps; every filter applies before the limit."""

    status: str | None = None
    priority: str | None = None
    tags: tuple[str, ...] = ()
    text: str | None = None
    # Only the issues `ready_for` could claim now: open, waiting on nothing, held by nobody else connected.
    ready_for: tuple[Caller, frozenset[str]] | None = None
    limit: int = 50
    offset: int = 0


class IssueBoard:
    """Issues stored in state.db; every change is one transaction and one event."""

    def __init__(self, store: Store, events: EventBus) -> None:
        self.store = store
        self.events = events

    def record(
        self,
        title: str,
        content: str = "",
        *,
        priority: str = "medium",
        tags: list[str] | None = None,
        status: str = "open",
        assignee: str | None = None,
        due_date: str | None = None,
        related_ids: list[str] | None = None,
        blocked_by: list[str] | None = None,
        by: str | None = None,
    ) -> dict[str, Any]:
        """Create an issue recorded as made `by` that name; its number comes from SQLite inside the write
        transaction, so it is never shared."""
        values = self.checked(
            {
                "title": title,
                "content": content,
                "status": status,
                "priority": priority,
                "tags": tags,
                "assignee": assignee,
                "due_date": due_date,
                "related_ids": related_ids,
            }
        )
        blockers = [issue_number(i, "blocked_by") for i in blocked_by or []]
        stamp = clock.now()
        if by is not None:
            values.update(created_by=by, updated_by=by)
        if values["assignee"] is not None:
            values["assigned_at"] = stamp
        with self.store.transaction() as db:
            number = self.insert(db, values, stamp, stamp)
            replace_blockers(db, number, blockers)
            issue = self._load(db, number)
        self.events.publish("issue", action="created", id=issue["id"], issue=issue)
        return issue

    def insert(
        self, db: sqlite3.Connection, values: dict[str, Any], created: str, updated: str, number: int | None = None
    ) -> int:
        """Insert checked `values` inside the caller's transaction; `number` keeps an imported id."""
        values = {"number": number, **values} if number is not None else values
        columns = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        cursor = db.execute(
            f"INSERT INTO issues ({columns}, position, created_at, updated_at) "
            f"VALUES ({marks}, (SELECT COALESCE(MAX(position), 0) + 1 FROM issues WHERE status = ?), ?, ?)",
            (*values.values(), values["status"], created, updated),
        )
        number = int(cursor.lastrowid or 0)
        db.executemany(
            "INSERT INTO issue_tags (number, tag) VALUES (?, ?)", [(number, t) for t in json.loads(values["tags"])]
        )
        return number

    def checked(self, values: dict[str, Any]) -> dict[str, Any]:
        """The columns of a new issue from user values, each checked; Invalid names the first bad one."""
        return {
            "title": fields.title(values["title"]),
            "content": fields.text(values.get("content", ""), "content"),
            "status": fields.choice(values.get("status", "open"), STATUSES, "status"),
            "priority": fields.choice(values.get("priority", "medium"), fields.PRIORITIES, "priority"),
            "tags": fields.to_json(fields.tags(values.get("tags") or [])),
            "assignee": None if values.get("assignee") is None else fields.title(values["assignee"], "assignee"),
            "due_date": fields.date(values.get("due_date"), "due_date"),
            "related_ids": fields.to_json(values.get("related_ids") or []),
            "extra": fields.to_json(values.get("extra") or {}),
            **{k: fields.title(values[k], k) for k in ("created_by", "updated_by") if values.get(k) is not None},
            **({"assigned_at": values["assigned_at"]} if values.get("assigned_at") else {}),
        }

    def export_rows(self) -> list[dict[str, Any]]:
        """Every issue with the keys kept from an import, for writing the original's layout."""
        rows = self.store.db.execute("SELECT * FROM issues ORDER BY number").fetchall()
        issues = self._dicts(self.store.db, rows)
        return [{**issue, "extra": json.loads(r["extra"])} for r, issue in zip(rows, issues, strict=True)]

    def get(self, issue_id: str) -> dict[str, Any]:
        return self._load(self.store.db, issue_number(issue_id))

    def exists(self, db: sqlite3.Connection, number: int) -> bool:
        return db.execute("SELECT 1 FROM issues WHERE number = ?", (number,)).fetchone() is not None

    def _load(self, db: sqlite3.Connection, number: int) -> dict[str, Any]:
        row = db.execute("SELECT * FROM issues WHERE number = ?", (number,)).fetchone()
        if row is None:
            raise NotFound(f"No issue ISSUE_{number} exists; list_issues shows the ones there are.", "issue_id")
        return as_dict(row, blockers_of(db, [number])[number])

    def _dicts(self, db: sqlite3.Connection, rows: list[sqlite3.Row]) -> list[dict[str, Any]]:
        blockers = blockers_of(db, [r["number"] for r in rows])
        return [as_dict(r, blockers[r["number"]]) for r in rows]

    def query(self, query: IssueFilter) -> tuple[list[dict[str, Any]], int]:
        """The issues that pass every filter, newest first, then limited; and how many passed in all."""
        where = Where()
        where.equals("status", query.status, STATUSES)
        where.equals("priority", query.priority, fields.PRIORITIES)
        where.all_tags("number", "issue_tags", query.tags)
        where.contains(("title", "content"), query.text)
        order = "number DESC"
        if query.ready_for is not None:
            where.condition(*_ready_condition(*query.ready_for))
            order = READY_ORDER
        rows, total = page(self.store.db, "issues AS i", where, order, query.limit, query.offset)
        return self._dicts(self.store.db, rows), int(total)

    def update(
        self,
        issue_id: str,
        changes: dict[str, Any],
        caller: Caller = NOBODY,
        present: frozenset[str] = frozenset(),
    ) -> dict[str, Any]:
        """Change the given fields only; the title and everything not named stay as they were.

        `caller` is recorded as the one who changed it; `present` are the names connected now. Only a person may
        take an issue from another connected holder; a holder who completes its issue lets go of it.
        """
        number = issue_number(issue_id)
        unknown = set(changes) - set(UPDATABLE)
        if unknown:
            field = sorted(unknown)[0]
            raise Invalid(f"{field!r} is not a field of an issue that can be changed.", field)
        values: dict[str, Any] = {}
        if "title" in changes:
            values["title"] = fields.title(changes["title"])
        if "content" in changes:
            values["content"] = fields.text(changes["content"], "content")
        if "status" in changes:
            values["status"] = fields.choice(changes["status"], STATUSES, "status")
        if "priority" in changes:
            values["priority"] = fields.choice(changes["priority"], fields.PRIORITIES, "priority")
        if "tags" in changes:
            values["tags"] = fields.to_json(fields.tags(changes["tags"]))
        if "assignee" in changes:
            values["assignee"] = None if changes["assignee"] is None else fields.title(changes["assignee"], "assignee")
        if "due_date" in changes:
            values["due_date"] = fields.date(changes["due_date"], "due_date")
        if "related_ids" in changes:
            values["related_ids"] = fields.to_json(changes["related_ids"])
        blockers = None
        if "blocked_by" in changes:
            blockers = [issue_number(i, "blocked_by") for i in changes["blocked_by"]]
        with self.store.transaction() as db:
            before = self._load(db, number)
            if "assignee" in values and values["assignee"] != before["assignee"]:
                other = holder(before, caller, present)
                if other is not None and not caller.is_person:
                    raise _held(before, other)
                values["assigned_at"] = None if values["assignee"] is None else clock.now()
            elif values.get("status") == "completed" and before["assignee"] in (caller.name, None):
                values.update(assignee=None, assigned_at=None)  # the holder is done with it
            if blockers is not None:
                replace_blockers(db, number, blockers)
            issue = self._write(db, before, values, caller)
        self.events.publish("issue", action="updated", id=issue["id"], issue=issue, previous_status=before["status"])
        return issue

    def _write(
        self, db: sqlite3.Connection, before: dict[str, Any], values: dict[str, Any], caller: Caller
    ) -> dict[str, Any]:
        """Store `values` over the issue `before` inside the caller's transaction, and load it again."""
        number = issue_number(before["id"])
        if "status" in values and values["status"] != before["status"]:
            # A card moved to another column goes to the bottom of it.
            db.execute(
                "UPDATE issues SET position = (SELECT COALESCE(MAX(position), 0) + 1 FROM issues WHERE status = ?)"
                " WHERE number = ?",
                (values["status"], number),
            )
        if caller.name is not None:
            values = {**values, "updated_by": caller.name}
        assignments = ", ".join(f"{k} = ?" for k in values)
        db.execute(
            f"UPDATE issues SET {assignments}{', ' if values else ''}updated_at = ? WHERE number = ?",
            (*values.values(), clock.now(), number),
        )
        if "tags" in values:
            db.execute("DELETE FROM issue_tags WHERE number = ?", (number,))
            db.executemany(
                "INSERT INTO issue_tags (number, tag) VALUES (?, ?)",
                [(number, t) for t in json.loads(values["tags"])],
            )
        return self._load(db, number)

    # ---- claims: who works on what ------------------------------------------------------------

    def claim(self, issue_id: str, caller: Caller, present: frozenset[str]) -> dict[str, Any]:
        """Make `caller` the assignee and move the card to in-progress, in one transaction.

        Only an issue that is open or in progress, waits on nothing, and is held by nobody else connected can be
        claimed; otherwise Conflict says who or what stands in the way.
        """
        number = issue_number(issue_id)
        with self.store.transaction() as db:
            before = self._load(db, number)
            issue = self._claim(db, before, _named(caller), present)
        self.events.publish("issue", action="claimed", id=issue["id"], issue=issue, previous_status=before["status"])
        return issue

    def _claim(
        self, db: sqlite3.Connection, before: dict[str, Any], caller: Caller, present: frozenset[str]
    ) -> dict[str, Any]:
        if before["status"] in RESOLVED:
            raise Conflict(
                f"{before['id']} is {before['status']}; move it back to open before claiming it.", "issue_id"
            )
        other = holder(before, caller, present)
        if other is not None:
            raise _held(before, other)
        if before["waiting_on"]:
            raise Conflict(
                f"{before['id']} waits on {', '.join(before['waiting_on'])}, not yet completed; claim one of those "
                "instead, or claim_issue 'next' for work that is ready.",
                "issue_id",
                {"waiting_on": before["waiting_on"]},
            )
        values: dict[str, Any] = {"assignee": caller.name, "status": "in-progress"}
        if before["assignee"] != caller.name:
            values["assigned_at"] = clock.now()
        return self._write(db, before, values, caller)

    def release(self, issue_id: str, caller: Caller, present: frozenset[str]) -> dict[str, Any]:
        """Let go of an issue: no assignee, and back to open if it was in progress.

        Its holder, a person, or anyone once the holder has left may release it.
        """
        number = issue_number(issue_id)
        with self.store.transaction() as db:
            before = self._load(db, number)
            if before["assignee"] is None:
                return before
            other = holder(before, _named(caller), present)
            if other is not None and not caller.is_person:
                raise _held(before, other)
            values: dict[str, Any] = {"assignee": None, "assigned_at": None}
            if before["status"] == "in-progress":
                values["status"] = "open"
            issue = self._write(db, before, values, caller)
        self.events.publish("issue", action="released", id=issue["id"], issue=issue, previous_status=before["status"])
        return issue

    def next_ready(self, caller: Caller, present: frozenset[str], claim: bool) -> dict[str, Any] | None:
        """The issue `caller` should take up next — highest priority, then oldest, of those ready — or None.

        With `claim`, it is claimed in the same transaction, so two callers asking at once never get the same one.
        """
        if claim:
            _named(caller)
        condition, args = _ready_condition(caller, present)
        with self.store.transaction() as db:
            row = db.execute(
                f"SELECT * FROM issues AS i WHERE {condition} ORDER BY {READY_ORDER} LIMIT 1", args
            ).fetchone()
            if row is None:
                return None
            before = self._dicts(db, [row])[0]
            if not claim:
                return before
            issue = self._claim(db, before, caller, present)
        self.events.publish("issue", action="claimed", id=issue["id"], issue=issue, previous_status=before["status"])
        return issue

    def held(self) -> list[dict[str, Any]]:
        """Every issue with an assignee that is not yet completed or archived, oldest claim first."""
        rows = self.store.db.execute(
            "SELECT * FROM issues WHERE assignee IS NOT NULL AND status NOT IN ('completed', 'archived') "
            "ORDER BY assigned_at, number"
        ).fetchall()
        return self._dicts(self.store.db, rows)

    def delete(self, issue_id: str) -> dict[str, Any]:
        number = issue_number(issue_id)
        with self.store.transaction() as db:
            issue = self._load(db, number)
            db.execute("DELETE FROM issues WHERE number = ?", (number,))
        self.events.publish("issue", action="deleted", id=issue["id"])
        return issue


def _ready_condition(caller: Caller, present: frozenset[str]) -> tuple[str, list[Any]]:
    """SQL on `issues AS i` for the issues `caller` could claim now, and its arguments."""
    names = sorted(present - {caller.name})
    marks = ", ".join("?" for _ in names)
    free = f"(i.assignee IS NULL OR i.assignee NOT IN ({marks}))" if names else "1"
    return f"i.status = 'open' AND {UNBLOCKED_SQL} AND {free}", names


def _named(caller: Caller) -> Caller:
    """`caller`, who must have a name to hold an issue."""
    if caller.name is None:
        raise Invalid("Only a connected session can hold an issue; call through the instance's socket.", "issue_id")
    return caller


def _held(issue: dict[str, Any], other: str) -> Conflict:
    return Conflict(
        f"{issue['id']} is held by {other} (since {issue['assigned_at'] or issue['updated_at']}); choose another "
        "issue, or ask a person to reassign it.",
        "issue_id",
        {"holder": other, "since": issue["assigned_at"]},
    )
