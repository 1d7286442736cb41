"""The one milestone an instance works toward: title, description, target date, progress, issues."""

from __future__ import annotations

import json
from typing import Any

from murmuration.core import clock, fields
from murmuration.core.errors import Invalid
from murmuration.core.events import EventBus
from murmuration.core.store import Store

MAX_DESCRIPTION = 2000


def _as_dict(row: Any) -> dict[str, Any]:
    return {
        "title": row["title"],
        "description": row["description"],
        "target_date": row["target_date"],
        "progress": row["progress"],
        "related_issues": json.loads(row["related_issues"]),
        "updated_by": row["updated_by"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


class Milestone:
    """Reads and partially updates the single milestone row."""

    def __init__(self, store: Store, events: EventBus) -> None:
        self.store = store
        self.events = events

    def get(self) -> dict[str, Any] | None:
        row = self.store.db.execute("SELECT * FROM milestone WHERE id = 1").fetchone()
        return None if row is None else _as_dict(row)

    def extra(self) -> dict[str, Any]:
        """Keys kept from an imported GOAL.md that Murmuration itself does not use."""
        row = self.store.db.execute("SELECT extra FROM milestone WHERE id = 1").fetchone()
        return {} if row is None else dict(json.loads(row["extra"]))

    def checked(self, changes: dict[str, Any]) -> dict[str, Any]:
        """The columns for `changes`, each checked; Invalid names the first bad field."""
        values: dict[str, Any] = {}
        if "title" in changes:
            values["title"] = fields.title(changes["title"])
        if "description" in changes:
            description = fields.text(changes["description"], "description")
            if len(description) > MAX_DESCRIPTION:
                raise Invalid(f"The description can have at most {MAX_DESCRIPTION} characters.", "description")
            values["description"] = description
        if "target_date" in changes:
            values["target_date"] = fields.date(changes["target_date"], "target_date")
        if "progress" in changes:
            progress = changes["progress"]
            if not isinstance(progress, int) or isinstance(progress, bool) or not 0 <= progress <= 100:
                raise Invalid("The progress must be a whole number from 0 to 100.", "progress")
            values["progress"] = progress
        if "related_issues" in changes:
            values["related_issues"] = fields.to_json(list(changes["related_issues"]))
        if "extra" in changes:
            values["extra"] = fields.to_json(changes["extra"])
        return values

    def write(self, db: Any, values: dict[str, Any], created: str | None = None, updated: str | None = None) -> None:
        """Apply checked `values` inside the caller's transaction; the first milestone needs a title."""
        stamp = clock.now()
        if db.execute("SELECT 1 FROM milestone WHERE id = 1").fetchone() is not None:
            if values:
                assignments = ", ".join(f"{k} = ?" for k in values)
                statement = f"UPDATE milestone SET {assignments}, updated_at = ? WHERE id = 1"
                db.execute(statement, (*values.values(), updated or stamp))
            return
        if "title" not in values:
            raise Invalid("There is no milestone yet: give it a title.", "title")
        columns = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        db.execute(
            f"INSERT INTO milestone (id, {columns}, created_at, updated_at) VALUES (1, {marks}, ?, ?)",
            (*values.values(), created or stamp, updated or stamp),
        )

    def set(self, changes: dict[str, Any], by: str | None = None) -> dict[str, Any]:
        """Apply the fields given and keep the rest; `by` is recorded as who set it."""
        values = self.checked(changes)
        if values and by is not None:
            values["updated_by"] = by
        with self.store.transaction() as db:
            self.write(db, values)
            milestone = _as_dict(db.execute("SELECT * FROM milestone WHERE id = 1").fetchone())
        self.events.publish("milestone", action="updated", milestone=milestone)
        return milestone
