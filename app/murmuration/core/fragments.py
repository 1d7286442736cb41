"""Knowledge fragments: typed notes with full-text search (SQLite FTS5, offline) and links between them."""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from dataclasses import dataclass
from typing import Any

from murmuration.core import clock, fields
from murmuration.core.errors import Conflict, Invalid, NotFound
from murmuration.core.events import EventBus
from murmuration.core.filters import Where, page
from murmuration.core.store import Store

TYPES = ("question", "answer", "note", "documentation", "issue", "solution", "reference")
STATUSES = ("active", "archived", "draft")
LINK_TYPES = ("answers", "references", "related", "supersedes")
DIRECTIONS = ("outgoing", "incoming", "both")
WORD = re.compile(r"\w+", re.UNICODE)


def as_dict(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "title": row["title"],
        "body": row["body"],
        "type": row["type"],
        "tags": json.loads(row["tags"]),
        "metadata": json.loads(row["metadata"]),
        "related_ids": json.loads(row["related_ids"]),
        "priority": row["priority"],
        "status": row["status"],
        "author": row["author"],
        "updated_by": row["updated_by"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def link_as_dict(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "source_id": row["source_id"],
        "target_id": row["target_id"],
        "link_type": row["link_type"],
        "metadata": json.loads(row["metadata"]),
        "created_at": row["created_at"],
    }


def match_expression(query: str) -> str:
    """An FTS5 query that matches the words of `query` literally: its operators and quotes mean nothing."""
    words = WORD.findall(query)[:32]
    if not words:
        raise Invalid("The search needs at least one word.", "query")
    quoted = [f'"{w}"' for w in words]
    quoted[-1] += "*"  # the last word may still be being typed
    return " ".join(quoted)


@dataclass
class FragmentFilter:
    type: str | None = None
    status: str | None = None
    priority: str | None = None
    tags: tuple[str, ...] = ()
    search: str | None = None
    limit: int = 50
    offset: int = 0


def _where(query: FragmentFilter) -> Where:
    """The conditions of a fragment filter, its columns named so they also hold beside the full-text index."""
    where = Where()
    where.equals("type", query.type, TYPES)
    where.equals("status", query.status, STATUSES)
    where.equals("priority", query.priority, fields.PRIORITIES)
    where.all_tags("id", "fragment_tags", query.tags)
    where.contains(("fragments.title", "fragments.body"), query.search)
    return where


class Fragments:
    """Fragments and their links in state.db; each change is one transaction and one event."""

    def __init__(self, store: Store, events: EventBus) -> None:
        self.store = store
        self.events = events

    def _values(self, changes: dict[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        if "title" in changes:
            values["title"] = fields.title(changes["title"])
        if "body" in changes:
            body = fields.text(changes["body"].strip(), "body")
            if not body:
                raise Invalid("The body cannot be empty.", "body")
            values["body"] = body
        if "type" in changes:
            values["type"] = fields.choice(changes["type"], TYPES, "type")
        if "tags" in changes:
            values["tags"] = fields.to_json(fields.tags(changes["tags"]))
        if "metadata" in changes:
            values["metadata"] = fields.to_json(changes["metadata"])
        if "related_ids" in changes:
            values["related_ids"] = fields.to_json(changes["related_ids"])
        if "priority" in changes:
            values["priority"] = fields.choice(changes["priority"], fields.PRIORITIES, "priority")
        if "status" in changes:
            values["status"] = fields.choice(changes["status"], STATUSES, "status")
        return values

    def record(self, changes: dict[str, Any], by: str | None = None) -> dict[str, Any]:
        """A new fragment, written `by` that name (its author)."""
        for required in ("title", "body", "type"):
            if required not in changes:
                raise Invalid(f"A fragment needs a {required}.", required)
        values = self._values(changes)
        if by is not None:
            values.update(author=by, updated_by=by)
        fragment_id = str(uuid.uuid4())
        stamp = clock.now()
        with self.store.transaction() as db:
            columns = ", ".join(values)
            marks = ", ".join("?" for _ in values)
            db.execute(
                f"INSERT INTO fragments (id, {columns}, created_at, updated_at) VALUES (?, {marks}, ?, ?)",
                (fragment_id, *values.values(), stamp, stamp),
            )
            self._set_tags(db, fragment_id, values)
            fragment = self._load(db, fragment_id)
        self.events.publish("fragment", action="created", id=fragment_id, fragment=fragment)
        return fragment

    def _set_tags(self, db: sqlite3.Connection, fragment_id: str, values: dict[str, Any]) -> None:
        if "tags" in values:
            db.execute("DELETE FROM fragment_tags WHERE id = ?", (fragment_id,))
            db.executemany(
                "INSERT INTO fragment_tags (id, tag) VALUES (?, ?)",
                [(fragment_id, t) for t in json.loads(values["tags"])],
            )

    def _load(self, db: sqlite3.Connection, fragment_id: str, field: str = "id") -> dict[str, Any]:
        row = db.execute("SELECT * FROM fragments WHERE id = ?", (fragment_id,)).fetchone()
        if row is None:
            raise NotFound(f"No fragment has the id {fragment_id[:60]!r}.", field)
        return as_dict(row)

    def get(self, fragment_id: str) -> dict[str, Any]:
        return self._load(self.store.db, fragment_id)

    def query(self, query: FragmentFilter) -> tuple[list[dict[str, Any]], int]:
        """The fragments that pass every filter, most recently updated first, then limited; and the total."""
        rows, total = page(self.store.db, "fragments", _where(query), "updated_at DESC, id", query.limit, query.offset)
        return [as_dict(r) for r in rows], int(total)

    def search(self, query: str, type: str | None = None, limit: int = 10) -> list[dict[str, Any]]:
        """Fragments whose title or body hold the words of `query`, best first, with a highlighted snippet."""
        return self.ranked(query, FragmentFilter(type=type, limit=limit))[0]

    def ranked(self, words: str, query: FragmentFilter) -> tuple[list[dict[str, Any]], int]:
        """The fragments that hold the words of `words` and pass every filter of `query`, best first, each with
        its score and a snippet marking the matches **like this**, then limited; and how many matched."""
        where = _where(query)
        where.condition("fragments_fts MATCH ?", [match_expression(words)])
        matches = f"FROM fragments_fts JOIN fragments ON fragments.rowid = fragments_fts.rowid WHERE {where.sql}"
        db = self.store.db
        total = db.execute(f"SELECT COUNT(*) {matches}", where.args).fetchone()[0]
        rows = db.execute(
            "SELECT fragments.*, bm25(fragments_fts, 10.0, 1.0) AS rank, "
            f"snippet(fragments_fts, -1, '**', '**', '…', 16) AS snippet {matches} ORDER BY rank LIMIT ? OFFSET ?",
            [*where.args, query.limit, query.offset],
        ).fetchall()
        hits = [{"fragment": as_dict(r), "score": round(-r["rank"], 6), "snippet": r["snippet"]} for r in rows]
        return hits, int(total)

    def update(self, fragment_id: str, changes: dict[str, Any], by: str | None = None) -> dict[str, Any]:
        values = self._values(changes)
        if values and by is not None:
            values["updated_by"] = by
        with self.store.transaction() as db:
            self._load(db, fragment_id)
            if values:
                assignments = ", ".join(f"{k} = ?" for k in values)
                db.execute(
                    f"UPDATE fragments SET {assignments}, updated_at = ? WHERE id = ?",
                    (*values.values(), clock.now(), fragment_id),
                )
                self._set_tags(db, fragment_id, values)
            fragment = self._load(db, fragment_id)
        self.events.publish("fragment", action="updated", id=fragment_id, fragment=fragment)
        return fragment

    def delete(self, fragment_id: str) -> dict[str, Any]:
        """Delete a fragment; its links go with it (ON DELETE CASCADE)."""
        with self.store.transaction() as db:
            fragment = self._load(db, fragment_id)
            links = db.execute(
                "SELECT COUNT(*) FROM fragment_links WHERE source_id = ? OR target_id = ?", (fragment_id, fragment_id)
            ).fetchone()[0]
            db.execute("DELETE FROM fragments WHERE id = ?", (fragment_id,))
        self.events.publish("fragment", action="deleted", id=fragment_id)
        return {**fragment, "links_deleted": int(links)}

    def check(self, changes: dict[str, Any]) -> None:
        """Raise Invalid as `update` would for these changes, changing nothing."""
        self._values(changes)

    def link(
        self,
        source_id: str,
        target_id: str,
        link_type: str,
        metadata: dict[str, Any] | None = None,
        existing_ok: bool = False,
    ) -> dict[str, Any]:
        """A new link; the same link again is refused, or answered with the one there is when `existing_ok`."""
        link_type = fields.choice(link_type, LINK_TYPES, "link_type")
        if source_id == target_id:
            raise Invalid("A fragment cannot link to itself.", "target_id")
        link_id = f"link_{source_id}_{target_id}_{link_type}"
        with self.store.transaction() as db:
            self._load(db, source_id, "source_id")
            self._load(db, target_id, "target_id")
            try:
                db.execute(
                    "INSERT INTO fragment_links (id, source_id, target_id, link_type, metadata, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (link_id, source_id, target_id, link_type, fields.to_json(metadata or {}), clock.now()),
                )
            except sqlite3.IntegrityError:
                if not existing_ok:
                    raise Conflict(f"That {link_type} link already exists ({link_id}).", "link_type") from None
                return self.link_by_id(link_id)
            link = link_as_dict(db.execute("SELECT * FROM fragment_links WHERE id = ?", (link_id,)).fetchone())
        self.events.publish("fragment_link", action="created", id=link_id, link=link)
        return link

    def link_by_id(self, link_id: str, field: str = "link_id") -> dict[str, Any]:
        row = self.store.db.execute("SELECT * FROM fragment_links WHERE id = ?", (link_id,)).fetchone()
        if row is None:
            raise NotFound(f"No link has the id {link_id[:80]!r}.", field)
        return link_as_dict(row)

    def links(
        self, fragment_id: str, direction: str = "both", link_type: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        self._load(self.store.db, fragment_id, "fragment_id")
        direction = fields.choice(direction, DIRECTIONS, "direction")
        sides = {"outgoing": ["source_id"], "incoming": ["target_id"], "both": ["source_id", "target_id"]}[direction]
        condition = " OR ".join(f"{side} = ?" for side in sides)
        args: list[Any] = [fragment_id] * len(sides)
        if link_type:
            condition = f"({condition}) AND link_type = ?"
            args.append(fields.choice(link_type, LINK_TYPES, "link_type"))
        rows = self.store.db.execute(
            f"SELECT * FROM fragment_links WHERE {condition} ORDER BY created_at, id LIMIT ?", [*args, limit]
        ).fetchall()
        return [
            {**link_as_dict(r), "direction": "outgoing" if r["source_id"] == fragment_id else "incoming"} for r in rows
        ]

    def unlink(self, link_id: str) -> dict[str, Any]:
        with self.store.transaction() as db:
            row = db.execute("SELECT * FROM fragment_links WHERE id = ?", (link_id,)).fetchone()
            if row is None:
                raise NotFound(f"No link has the id {link_id[:80]!r}.", "link_id")
            db.execute("DELETE FROM fragment_links WHERE id = ?", (link_id,))
        link = link_as_dict(row)
        self.events.publish("fragment_link", action="deleted", id=link_id, link=link)
        return link
