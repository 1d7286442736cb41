"""The issue board: issues with a status column each (open → in-progress → completed → archived)."""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from typing import Any

from murmuration.core import clock, fields
from murmuration.core.errors import Invalid, NotFound
from murmuration.core.events import EventBus
from murmuration.core.filters import Where, page
from murmuration.core.store import Store

STATUSES = ("open", "in-progress", "completed", "archived")
ISSUE_ID = re.compile(r"ISSUE_([1-9][0-9]{0,17})")
MAX_NUMBER = 999_999_999  # imported ids stay below this, so new ones (max + 1) always stay readable
UPDATABLE = ("title", "content", "status", "priority", "tags", "assignee", "due_date", "related_ids")


def issue_number(issue_id: str) -> int:
    """The number in `ISSUE_<n>`; NotFound for anything else, so a malformed id reads as "no such issue"."""
    match = ISSUE_ID.fullmatch(issue_id)
    if match is None:
        raise NotFound(f"No issue has the id {issue_id[:60]!r}; ids look like ISSUE_3.", "issue_id")
    return int(match.group(1))


def as_dict(row: sqlite3.Row) -> dict[str, Any]:
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
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


@dataclass
class IssueFilter:
    """What `list_issues` keeps; every filter applies before the limit."""

    status: str | None = None
    priority: str | None = None
    tags: tuple[str, ...] = ()
    text: str | None = None
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
    ) -> dict[str, Any]:
        """Create an issue; its number comes from SQLite inside the write transaction, so it is never shared."""
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
        stamp = clock.now()
        with self.store.transaction() as db:
            number = self.insert(db, values, stamp, stamp)
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
        }

    def export_rows(self) -> list[dict[str, Any]]:
        """Every issue with the keys kept from an import, for writing the original's layout."""
        rows = self.store.db.execute("SELECT * FROM issues ORDER BY number").fetchall()
        return [{**as_dict(r), "extra": json.loads(r["extra"])} for r in rows]

    def get(self, issue_id: str) -> dict[str, Any]:
        return self._load(self.store.db, issue_number(issue_id))

    def exists(self, db: sqlite3.Connection, number: int) -> bool:
        return db.execute("SELECT 1 FROM issues WHERE number = ?", (number,)).fetchone() is not None

    def _load(self, db: sqlite3.Connection, number: int) -> dict[str, Any]:
        row = db.execute("SELECT * FROM issues WHERE number = ?", (number,)).fetchone()
        if row is None:
            raise NotFound(f"No issue ISSUE_{number} exists; list_issues shows the ones there are.", "issue_id")
        return as_dict(row)

    def query(self, query: IssueFilter) -> tuple[list[dict[str, Any]], int]:
        """The issues that pass every filter, newest first, then limited; and how many passed in all."""
        where = Where()
        where.equals("status", query.status, STATUSES)
        where.equals("priority", query.priority, fields.PRIORITIES)
        where.all_tags("number", "issue_tags", query.tags)
        where.contains(("title", "content"), query.text)
        rows, total = page(self.store.db, "issues", where, "number DESC", query.limit, query.offset)
        return [as_dict(r) for r in rows], int(total)

    def update(self, issue_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Change the given fields only; the title and everything not named stay as they were."""
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
        with self.store.transaction() as db:
            before = self._load(db, number)
            if "status" in values and values["status"] != before["status"]:
                # A card moved to another column goes to the bottom of it.
                db.execute(
                    "UPDATE issues SET position = (SELECT COALESCE(MAX(position), 0) + 1 FROM issues WHERE status = ?)"
                    " WHERE number = ?",
                    (values["status"], number),
                )
            if values:
                assignments = ", ".join(f"{k} = ?" for k in values)
                db.execute(
                    f"UPDATE issues SET {assignments}, updated_at = ? WHERE number = ?",
                    (*values.values(), clock.now(), number),
                )
            if "tags" in values:
                db.execute("DELETE FROM issue_tags WHERE number = ?", (number,))
                db.executemany(
                    "INSERT INTO issue_tags (number, tag) VALUES (?, ?)",
                    [(number, t) for t in json.loads(values["tags"])],
                )
            issue = self._load(db, number)
        self.events.publish("issue", action="updated", id=issue["id"], issue=issue, previous_status=before["status"])
        return issue

    def delete(self, issue_id: str) -> dict[str, Any]:
        number = issue_number(issue_id)
        with self.store.transaction() as db:
            issue = self._load(db, number)
            db.execute("DELETE FROM issues WHERE number = ?", (number,))
        self.events.publish("issue", action="deleted", id=issue["id"])
        return issue
