"""state.db: the instance's one store of record (SQLite in WAL mode), with versioned migrations.

A newer release opens an older database and upgrades it step by step, in one transaction per
step, after a backup; an older release refuses a newer database instead of misreading it.

Every open runs SQLite's quick_check and foreign_key_check. A damaged database is never written
again: the store turns read-only (reads still answer where pages are readable), and a corrupt
page met later switches it the same way at once. A full disk fails the one transaction whole.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from murmuration.core import backups
from murmuration.core.errors import Damaged, DiskFull, storage_failure
from murmuration.privatefiles import create_private

log = logging.getLogger("murmuration.store")


class StoreError(Exception):
    """The database cannot be used as it is; the message says why and what to do."""


class Store:
    """One SQLite connection owned by the instance's server; all writes go through `transaction()`."""

    def __init__(self, path: Path | str, migrations: Sequence[str]) -> None:
        self.path = Path(path)
        self.migrations = migrations
        # Why the database may not be written (None while it is sound); see `damage_found`.
        self.damage: str | None = None
        # Told once when the store turns read-only (the server publishes it to the dashboard).
        self.on_damage: Callable[[str], None] = lambda reason: None
        try:
            # Made ours and 0600 before SQLite makes it (its WAL files take the database file's mode).
            os.close(create_private(self.path))
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        except (sqlite3.Error, OSError) as exc:
            full = storage_failure(exc, self.path.parent)
            raise StoreError(full.message if isinstance(full, DiskFull) else f"Cannot open {path}: {exc}.") from exc
        self.db.row_factory = sqlite3.Row
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a commit survives the process being killed; only an OS crash can lose the last one.
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.execute("PRAGMA busy_timeout=5000")
            found = backups.check_connection(self.db)
        except sqlite3.DatabaseError as exc:
            failure = storage_failure(exc, self.path.parent)
            if not isinstance(failure, Damaged):
                self.db.close()
                if isinstance(failure, DiskFull):
                    raise StoreError(failure.message) from exc
                raise StoreError(f"{path} cannot be used ({exc}); `murmuration doctor` says what to do.") from exc
            found = failure.reason
        if found is not None:
            self.damage_found(found)
            return
        try:
            self._migrate()
            self._check_schema()
        except sqlite3.DatabaseError as exc:
            self.db.close()
            raise StoreError(f"{path} could not be upgraded ({exc}); `murmuration doctor` says what to do.") from exc
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
        if 0 < current < latest:
            # An upgrade that goes wrong (or a release that misreads the data) must never cost the data.
            try:
                backups.make_backup(self.path, f"before-schema-{latest}", source=self.db)
            except (Damaged, OSError, sqlite3.Error) as exc:
                raise StoreError(
                    f"{self.path} was not upgraded to schema {latest} because no backup could be made first ({exc})."
                ) from exc
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
        problem = schema_problem(self.db, self.path, self.migrations)
        if problem is not None:
            raise StoreError(problem)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All or nothing: BEGIN IMMEDIATE takes the write lock at once, so no writer ever interleaves.

        Raises Damaged at once on a damaged store, DiskFull when the disk is full (nothing of it is kept).
        """
        if self.damage is not None:
            raise Damaged(self.damage)
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self._roll_back()
                raise
            self.db.execute("COMMIT")
        except (sqlite3.Error, OSError) as exc:
            self._roll_back()
            failure = self.failure(exc)
            if failure is exc:
                raise
            raise failure from exc

    def _roll_back(self) -> None:
        # SQLite may have rolled back by itself (a full disk can do that); a second ROLLBACK would fail.
        if self.db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self.db.execute("ROLLBACK")

    def failure(self, exc: BaseException) -> BaseException:
        """What a storage error means for callers: DiskFull, Damaged (turning the store read-only), or itself."""
        found = storage_failure(exc, self.path.parent)
        if isinstance(found, Damaged):
            self.damage_found(found.reason)
            return found
        if found is not None:
            return found
        if self.damage is not None and isinstance(exc, sqlite3.DatabaseError):
            return Damaged(self.damage)  # a damaged file fails in many ways; all of them mean the same
        return exc

    def damage_found(self, reason: str) -> None:
        """Turn the store read-only for the rest of its life: no write reaches a damaged file again."""
        if self.damage is not None:
            return
        self.damage = reason
        log.error("%s is damaged (%s); it takes no more writes", self.path, reason)
        with contextlib.suppress(sqlite3.Error):
            self.db.execute("PRAGMA query_only=ON")  # a second guard below transaction()
        self.on_damage(reason)

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


def schema_problem(db: sqlite3.Connection, path: Path, migrations: Sequence[str]) -> str | None:
    """What is wrong with the schema of `db` (fully migrated) beside what `migrations` make, or None.

    A state.db can come from elsewhere (a `--data-dir` someone else filled): a trigger planted in it could
    rewrite every command started later. Only the exact schema our migrations make is used: a table, trigger,
    view or index they did not make is refused, and so is one of theirs that is missing.
    """
    expected = _schema_of(migrations)
    for kind, name, _ in sorted(_schema(db) - expected):
        return (
            f"{path} holds a {kind} {name!r} that Murmuration did not make, so it may come from someone "
            "else; move state.db aside to start afresh."
        )
    missing = sorted(name for _, name, _ in expected - _schema(db))
    if missing:
        return f"{path} lacks {missing[0]!r}, which Murmuration needs; it is damaged."
    return None


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
