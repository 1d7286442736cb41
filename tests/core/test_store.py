"""state.db (core/store.py, core/schema.py): versioned migrations up, refusal of a newer or foreign file, WAL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from murmuration.core.errors import Damaged
from murmuration.core.events import EventBus
from murmuration.core.knowledge import KnowledgeBase
from murmuration.core.schema import MIGRATIONS
from murmuration.core.store import Store, StoreError
from tests.conftest import Servers

LATEST = len(MIGRATIONS)
KNOWLEDGE_TABLES = {
    "issues",
    "issue_tags",
    "milestone",
    "fragments",
    "fragment_tags",
    "fragments_fts",
    "fragment_links",
}

# A made-up history of three releases, to see a database climb more than one step.
STEPS = (
    "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL);",
    "ALTER TABLE notes ADD COLUMN colour TEXT NOT NULL DEFAULT 'grey';\n"
    "CREATE INDEX notes_by_colour ON notes (colour);",
    "CREATE TABLE pins (note INTEGER REFERENCES notes (id));\nINSERT INTO pins SELECT id FROM notes;",
)


def user_version(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    finally:
        db.close()


def tables(path: Path) -> set[str]:
    db = sqlite3.connect(path)
    try:
        return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        db.close()


def test_a_fresh_database_is_brought_to_the_latest_version(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db", MIGRATIONS)
    try:
        assert store.version == LATEST
    finally:
        store.close()
    assert user_version(tmp_path / "state.db") == LATEST
    assert tables(tmp_path / "state.db") >= KNOWLEDGE_TABLES


def test_opening_an_up_to_date_database_again_changes_nothing(tmp_path: Path) -> None:
    kb = KnowledgeBase.open(tmp_path / "state.db", EventBus())
    kb.issues.record("Kept across opens")
    kb.close()
    kb = KnowledgeBase.open(tmp_path / "state.db", EventBus())
    try:
        assert kb.store.version == LATEST
        assert kb.issues.get("ISSUE_1")["title"] == "Kept across opens"
    finally:
        kb.close()


def test_a_version_0_database_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    sqlite3.connect(path).close()  # an empty SQLite file: user_version 0
    assert user_version(path) == 0
    kb = KnowledgeBase.open(path, EventBus())
    try:
        assert kb.store.version == LATEST
        assert kb.issues.record("After the upgrade")["id"] == "ISSUE_1"
    finally:
        kb.close()


@pytest.mark.parametrize("done", [1, 2])
def test_an_older_database_climbs_every_missing_step_and_keeps_its_data(tmp_path: Path, done: int) -> None:
    path = tmp_path / "state.db"
    old = Store(path, STEPS[:done])  # an older release: it knew only the first `done` migrations
    old.db.execute("INSERT INTO notes (id, text) VALUES (1, 'written by an old release')")
    assert old.version == done
    old.close()
    new = Store(path, STEPS)
    try:
        assert new.version == len(STEPS)
        rows = [tuple(r) for r in new.db.execute("SELECT text, colour FROM notes")]
        assert rows == [("written by an old release", "grey")]
        assert [tuple(r) for r in new.db.execute("SELECT note FROM pins")] == [(1,)]
    finally:
        new.close()


def test_a_database_of_this_release_upgrades_under_a_newer_release_keeping_issues(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    kb = KnowledgeBase.open(path, EventBus())
    kb.issues.record("Made by this release", "body", tags=["old"])
    kb.close()
    newer = (*MIGRATIONS, "ALTER TABLE issues ADD COLUMN estimate INTEGER;")
    store = Store(path, newer)
    try:
        assert store.version == LATEST + 1
        row = store.db.execute("SELECT title, estimate FROM issues WHERE number = 1").fetchone()
        assert tuple(row) == ("Made by this release", None)
    finally:
        store.close()


def test_a_failing_migration_step_is_rolled_back_whole(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    broken = (STEPS[0], "CREATE TABLE half (x INTEGER);\nCREATE TABLE notes (again INTEGER);")
    with pytest.raises(StoreError):
        Store(path, broken)
    assert user_version(path) == 1
    assert "half" not in tables(path)
    assert "notes" in tables(path)


def test_a_newer_database_is_refused_naming_both_versions(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE future (x)")
    db.execute(f"PRAGMA user_version = {LATEST + 41}")
    db.close()
    with pytest.raises(StoreError) as caught:
        Store(path, MIGRATIONS)
    message = str(caught.value)
    assert f"schema {LATEST + 41}" in message
    assert f"knows {LATEST}" in message
    assert "newer" in message
    assert user_version(path) == LATEST + 41  # refused, not touched
    assert tables(path) == {"future"}


@pytest.mark.parametrize(
    "content",
    [
        b"this is a text file, not a database\n" * 20,
        b"\x00\xff" * 4096,
        b"SQLite format 3\x00" + b"\xee" * 4080,  # the right magic, then garbage
    ],
)
def test_a_file_that_is_not_a_database_is_opened_damaged_and_never_written(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(content)
    store = Store(path, MIGRATIONS)
    try:
        assert store.damage is not None
        with pytest.raises(Damaged), store.transaction() as db:
            db.execute("CREATE TABLE taken_over (x)")
    finally:
        store.close()
    assert path.read_bytes() == content  # left as it was for the user to look at


def test_a_folder_in_place_of_the_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.mkdir()
    with pytest.raises(StoreError):
        Store(path, MIGRATIONS)


def test_the_journal_is_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = Store(path, MIGRATIONS)
    try:
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        other = sqlite3.connect(path)  # WAL is a property of the file: another connection sees it too
        try:
            assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        finally:
            other.close()
    finally:
        store.close()


def test_a_transaction_is_all_or_nothing(tmp_path: Path) -> None:
    kb = KnowledgeBase.open(tmp_path / "state.db", EventBus())

    def half_then_fail() -> None:
        with kb.store.transaction() as db:
            db.execute("INSERT INTO issues (title, created_at, updated_at) VALUES ('half', '2026-01-01', '2026-01-01')")
            raise RuntimeError("fails half-way")

    try:
        with pytest.raises(RuntimeError):
            half_then_fail()
        assert kb.store.db.execute("SELECT COUNT(*) FROM issues").fetchone()[0] == 0
        assert kb.issues.record("whole")["title"] == "whole"  # the connection is usable again
    finally:
        kb.close()


def test_serve_refuses_a_newer_database_in_one_sentence(servers: Servers, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    db = sqlite3.connect(data / "state.db")
    db.execute(f"PRAGMA user_version = {LATEST + 1}")
    db.close()
    server = servers.spawn("--data-dir", str(data))
    code = server.finish(timeout=60)
    err = server.stderr.decode()
    assert code == 1, err
    assert "Traceback" not in err, err
    assert f"schema {LATEST + 1}" in err
    assert f"knows {LATEST}" in err
    assert not (data / "runtime.json").exists()
