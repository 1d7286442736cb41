"""Damaged, full or old data in core (core/store.py, core/backups.py): found, said, never written over, backed up."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from murmuration.core import backups
from murmuration.core.errors import Damaged, DiskFull
from murmuration.core.events import EventBus
from murmuration.core.knowledge import KnowledgeBase
from murmuration.core.schema import MIGRATIONS
from murmuration.core.store import Store
from tests.storage import digest, fill, fill_disk, overwrite_page, tiny_disk


def titles(path: Path) -> list[str]:
    db = sqlite3.connect(path)
    try:
        return [r[0] for r in db.execute("SELECT title FROM issues ORDER BY number")]
    finally:
        db.close()


# --- damage ------------------------------------------------------------------------------------------------------


def test_a_page_of_random_bytes_is_found_at_open_and_nothing_is_written_to_the_file(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    fill(path)
    overwrite_page(path)
    before = digest(path)
    kb = KnowledgeBase.open(path, EventBus())
    try:
        assert kb.store.damage is not None
        with pytest.raises(Damaged):
            kb.issues.record("written on top of the damage")
        with pytest.raises(sqlite3.DatabaseError):  # the second guard: SQLite itself refuses any write
            kb.store.db.execute("INSERT INTO issues (title, created_at, updated_at) VALUES ('x', '', '')")
    finally:
        kb.close()
    assert digest(path) == before


def test_corruption_met_while_running_turns_the_store_read_only_at_once(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    fill(path)
    events = EventBus()
    seen: list[dict[str, object]] = []
    events.publish = lambda topic, **payload: seen.append({"topic": topic, **payload})  # type: ignore[method-assign]
    kb = KnowledgeBase.open(path, events)
    try:
        assert kb.store.damage is None
        kb.issues.record("before the damage")
        overwrite_page(path)
        kb.store.db.execute("PRAGMA shrink_memory")  # forget cached pages: the next read goes to the disk
        with pytest.raises(sqlite3.DatabaseError) as caught:
            kb.store.db.execute("SELECT COUNT(*), SUM(LENGTH(content)) FROM issues").fetchall()
        assert isinstance(kb.store.failure(caught.value), Damaged)
        assert kb.store.damage is not None
        with pytest.raises(Damaged):
            kb.issues.record("after the damage")
        assert [e for e in seen if e["topic"] == "instance"] == [
            {"topic": "instance", "action": "damaged", "reason": kb.store.damage}
        ]
    finally:
        kb.close()


def test_a_sound_store_passes_its_checks_and_is_writable(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    fill(path, issues=20)
    kb = KnowledgeBase.open(path, EventBus())
    try:
        assert kb.store.damage is None
        assert kb.issues.record("fine")["id"] == "ISSUE_21"
    finally:
        kb.close()
    assert backups.problem(path) is None


def test_the_store_files_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    fill(path, issues=3)
    kb = KnowledgeBase.open(path, EventBus())
    try:
        kb.issues.record("while open, with its WAL beside it")
        for name in ("state.db", "state.db-wal", "state.db-shm"):
            assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
    finally:
        kb.close()


# --- a full disk -------------------------------------------------------------------------------------------------


def test_a_full_disk_fails_the_write_whole_and_the_store_recovers_when_room_returns(tmp_path: Path) -> None:
    with tiny_disk(tmp_path / "disk") as disk:
        path = disk / "state.db"
        kb = KnowledgeBase.open(path, EventBus())
        try:
            kb.issues.record("fits", "a" * 1000)
            filler = fill_disk(disk, leave=8192)
            refusal: DiskFull | None = None
            for n in range(200):
                try:
                    kb.issues.record(f"big {n}", "b" * 20_000, tags=["big"])
                except DiskFull as exc:
                    refusal = exc
                    break
            assert str(refusal) == f"The disk holding {disk} is full; free some space and retry."
            assert not kb.store.db.in_transaction
            written = kb.store.db.execute("SELECT COUNT(*) FROM issues").fetchone()[0]
            tags = kb.store.db.execute("SELECT COUNT(*) FROM issue_tags WHERE tag = 'big'").fetchone()[0]
            assert tags == written - 1  # every issue that exists has its tag row: none is half written
            filler.unlink()
            assert kb.issues.record("after room came back", "c" * 20_000)["title"] == "after room came back"
        finally:
            kb.close()
        assert backups.problem(path) is None


# --- backups -----------------------------------------------------------------------------------------------------


def test_a_backup_is_a_checked_private_copy_and_only_the_newest_seven_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    fill(path, issues=10)
    made = [backups.make_backup(path, "manual") for _ in range(9)]
    kept = backups.backups(backups.backup_folder(path))
    assert [b.path for b in kept] == list(reversed(made))[: backups.KEEP]
    assert stat.S_IMODE(backups.backup_folder(path).stat().st_mode) == 0o700
    for backup in kept:
        assert stat.S_IMODE(backup.path.stat().st_mode) == 0o600
        assert backups.problem(backup.path) is None
        assert titles(backup.path) == titles(path)
    assert sorted(p.name for p in backups.backup_folder(path).iterdir()) == sorted(b.path.name for b in kept)


def test_a_damaged_store_is_never_backed_up_over_the_good_backups(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    fill(path)
    good = backups.make_backup(path, "daily")
    overwrite_page(path)
    with pytest.raises(Damaged):
        backups.make_backup(path, "daily")
    assert [b.path for b in backups.backups(backups.backup_folder(path))] == [good]
    assert sorted(os.listdir(backups.backup_folder(path))) == [good.name]  # no half copy left either


def test_restore_puts_a_backup_back_and_keeps_the_current_store_beside_it(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    fill(path, issues=5)
    backup = backups.make_backup(path, "manual")
    kb = KnowledgeBase.open(path, EventBus())
    kb.issues.record("written after the backup")
    kb.close()
    current = digest(path)
    kept = backups.restore(path, backup)
    assert titles(path) == [f"issue {n}" for n in range(5)]
    assert digest(kept) == current
    assert titles(kept)[-1] == "written after the backup"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_restore_refuses_a_damaged_backup_and_leaves_the_store_alone(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    fill(path)
    backup = backups.make_backup(path, "manual")
    overwrite_page(backup)
    before = digest(path)
    with pytest.raises(Damaged):
        backups.restore(path, backup)
    assert digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backups", "state.db"]


def test_a_migration_from_the_previous_schema_leaves_a_backup_that_restore_brings_back_intact(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    old = Store(path, MIGRATIONS[:-1])  # the previous release's schema
    with old.transaction() as db:
        db.execute(
            "INSERT INTO issues (title, created_at, updated_at) VALUES ('from the previous release', 'then', 'then')"
        )
    old.close()
    upgraded = Store(path, MIGRATIONS)
    assert upgraded.version == len(MIGRATIONS)
    upgraded.close()
    found = backups.backups(backups.backup_folder(path))
    assert [b.reason for b in found] == [f"before-schema-{len(MIGRATIONS)}"]
    backups.restore(path, found[0].path)
    restored = sqlite3.connect(path)
    try:
        assert restored.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) - 1
        assert [r[0] for r in restored.execute("SELECT title FROM issues")] == ["from the previous release"]
        assert restored.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        restored.close()


def test_no_backup_is_made_for_a_new_database(tmp_path: Path) -> None:
    Store(tmp_path / "state.db", MIGRATIONS).close()
    assert backups.backups(backups.backup_folder(tmp_path / "state.db")) == []
