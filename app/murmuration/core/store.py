"""state.db: the instance's one store of record (SQLite in WAL mode), with versioned migrations.

A newer release opens an older database and upgrades it step by step, in one transaction per
step; an older release refuses a newer database instead of misreading it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path


class StoreError(Exception):
    """The database cannot be used as it is; the message says why and what to do."""


class Store:
    """One SQLite connection owned by the instance's server; all writes go through `transaction()`."""

    def __init__(self, path: Path | str, migrations: Sequence[str]) -> None:
        self.path = path
        self.migrations = migrations
        try:
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"Cannot open {path}: {exc}.") from exc
        self.db.row_factory = sqlite3.Row
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a commit survives the process being killed; only an OS crash can lose the last one.
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.execute("PRAGMA busy_timeout=5000")
            self._migrate()
            self._check_schema()
        except sqlite3.DatabaseError as exc:
            self.db.close()
            raise StoreError(
                f"{path} is not a usable Murmuration database ({exc}); move it aside to start afresh."
            ) from exc
        except StoreError:
            self.db.close()
            raise

    @property
    def version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        current, latest = self.version, len(self.migrations)
        if current > latest:
            raise StoreError(
                f"{self.path} was written by a newer Murmuration (schema {current}, this release knows {latest}); "
                "update Murmuration to open it."
            )
        for version in range(current, latest):
            with self.transaction() as db:
                for statement in _statements(self.migrations[version]):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version={version + 1}")

    def check_found(self) -> None:
        """Refuse a database found elsewhere unless its every page and index agrees with its tables, then rebuild
        its indexes from the tables.

        The schema check cannot see an index whose pages were swapped for a planted b-tree (a "lying" index that
        shows a stopped process as queued): a full integrity check does, and REINDEX makes every index true.
        """
        problems = [" ".join(str(row[0]).split()) for row in self.db.execute("PRAGMA integrity_check(5)")]
        if problems != ["ok"]:
            raise StoreError(
                f"{self.path} does not agree with itself ({problems[0][:200]}), so it may come from someone else; "
                "move state.db aside to start afresh."
            )
        self.db.execute("REINDEX")

    def _check_schema(self) -> None:
        """Refuse a database holding a table, trigger, view or index that the migrations did not make.

        A state.db can come from elsewhere (a `--data-dir` someone else filled): a trigger planted in it could
        rewrite every command started later. Only the exact schema our migrations make is used.
        """
        expected = _schema_of(self.migrations)
        for kind, name, _ in sorted(_schema(self.db) - expected):
            raise StoreError(
                f"{self.path} holds a {kind} {name!r} that Murmuration did not make, so it may come from someone "
                "else; move state.db aside to start afresh."
            )
        missing = sorted(name for _, name, _ in expected - _schema(self.db))
        if missing:
            raise StoreError(f"{self.path} lacks {missing[0]!r}, which Murmuration needs; it is damaged.")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All or nothing: BEGIN IMMEDIATE takes the write lock at once, so no writer ever interleaves."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()


def _statements(script: str) -> Iterator[str]:
    """Split a migration script into statements (executescript would commit on its own)."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            yield buffer.strip()
            buffer = ""
    if buffer.strip():
        yield buffer.strip()


def _schema(db: sqlite3.Connection) -> set[tuple[str, str, str]]:
    rows = db.execute("SELECT type, name, coalesce(sql, '') FROM sqlite_master").fetchall()
    return {(str(kind), str(name), " ".join(str(sql).split())) for kind, name, sql in rows}


_EXPECTED: dict[tuple[str, ...], set[tuple[str, str, str]]] = {}


def _schema_of(migrations: Sequence[str]) -> set[tuple[str, str, str]]:
    """The schema that `migrations` make, from an empty database in memory (once per process)."""
    key = tuple(migrations)
    if key not in _EXPECTED:
        db = sqlite3.connect(":memory:", isolation_level=None)
        try:
            for script in migrations:
                for statement in _statements(script):
                    db.execute(statement)
            _EXPECTED[key] = _schema(db)
        finally:
            db.close()
    return _EXPECTED[key]
