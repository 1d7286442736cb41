"""WHERE clauses for the `list_*` operations, built from parameters only, and the page they select.

Every filter goes into the WHERE clause and the limit comes last, so a list never limits before it filters.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from murmuration.core import fields


class Where:
    """Conditions joined with AND, and the values bound to their placeholders."""

    def __init__(self) -> None:
        self.clauses: list[str] = ["1"]
        self.args: list[Any] = []

    def equals(self, column: str, value: str | None, allowed: tuple[str, ...]) -> None:
        """`column` is `value` (one of `allowed`), when a value is given."""
        if value:
            self.clauses.append(f"{column} = ?")
            self.args.append(fields.choice(value, allowed, column))

    def all_tags(self, key: str, tag_table: str, tags: tuple[str, ...]) -> None:
        """The row carries every one of `tags`."""
        wanted = list(dict.fromkeys(tags))
        if wanted:
            marks = ", ".join("?" for _ in wanted)
            self.clauses.append(
                f"{key} IN (SELECT {key} FROM {tag_table} WHERE tag IN ({marks}) GROUP BY {key} HAVING COUNT(*) = ?)"
            )
            self.args += [*wanted, len(wanted)]

    def contains(self, columns: tuple[str, ...], text: str | None) -> None:
        """One of `columns` holds `text` literally (its % and _ are not wildcards)."""
        if text:
            self.clauses.append("(" + " OR ".join(f"{c} LIKE ? ESCAPE '\\'" for c in columns) + ")")
            self.args += [fields.like_pattern(text)] * len(columns)

    def condition(self, clause: str, args: list[Any]) -> None:
        """A condition built by the caller from fixed SQL, with its values bound."""
        self.clauses.append(f"({clause})")
        self.args += args

    @property
    def sql(self) -> str:
        return " AND ".join(self.clauses)


def page(
    db: sqlite3.Connection, table: str, where: Where, order: str, limit: int, offset: int
) -> tuple[list[sqlite3.Row], int]:
    """The rows of `table` that pass `where`, in `order`, limited; and how many passed in all."""
    total = db.execute(f"SELECT COUNT(*) FROM {table} WHERE {where.sql}", where.args).fetchone()[0]
    rows = db.execute(
        f"SELECT * FROM {table} WHERE {where.sql} ORDER BY {order} LIMIT ? OFFSET ?", [*where.args, limit, offset]
    ).fetchall()
    return rows, int(total)
