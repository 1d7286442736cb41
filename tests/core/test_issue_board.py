"""core/issues.py on its own: an IssueBoard over a real state.db, no server, no socket.

tests/core/test_issues.py drives the same board through the WebSocket API; a failure here points at core.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from murmuration.core.errors import Invalid, NotFound
from murmuration.core.events import EventBus, Subscription
from murmuration.core.issues import IssueBoard, IssueFilter, issue_number
from murmuration.core.schema import MIGRATIONS
from murmuration.core.store import Store


@pytest.fixture
def events() -> EventBus:
    return EventBus()


@pytest.fixture
def board(tmp_path: Path, events: EventBus) -> Iterator[IssueBoard]:
    store = Store(tmp_path / "state.db", MIGRATIONS)
    try:
        yield IssueBoard(store, events)
    finally:
        store.close()


async def next_event(subscription: Subscription) -> dict[str, Any]:
    return await asyncio.wait_for(subscription.next(), 5)


def column(board: IssueBoard, status: str) -> list[str]:
    """The ids in one kanban column, top to bottom."""
    rows = board.store.db.execute("SELECT number FROM issues WHERE status = ? ORDER BY position", (status,))
    return [f"ISSUE_{n}" for (n,) in rows]


def test_record_numbers_issues_in_order_and_checks_every_field(board: IssueBoard) -> None:
    first = board.record("  First  ", "body", tags=["b", "a"], priority="high")
    second = board.record("Second")
    assert (first["id"], second["id"]) == ("ISSUE_1", "ISSUE_2")
    assert first["title"] == "First"  # trimmed
    assert (first["status"], first["priority"], first["content"]) == ("open", "high", "body")
    assert board.get("ISSUE_1") == first


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "x", "status": "done"}, "status"),
        ({"title": "x", "priority": "urgent"}, "priority"),
        ({"title": "x", "due_date": "tomorrow"}, "due_date"),
        ({"title": "x\x00y"}, "title"),
    ],
)
def test_record_refuses_a_bad_field_by_name_and_stores_nothing(
    board: IssueBoard, params: dict[str, Any], field: str
) -> None:
    with pytest.raises(Invalid) as refused:
        board.record(**params)
    assert refused.value.field == field
    assert board.query(IssueFilter()) == ([], 0)


def test_update_changes_only_what_it_names(board: IssueBoard) -> None:
    made = board.record("Keep me", "old", tags=["x"], priority="low")
    updated = board.update(made["id"], {"status": "in-progress"})
    assert (updated["title"], updated["content"], updated["tags"], updated["priority"]) == (
        "Keep me",
        "old",
        ["x"],
        "low",
    )
    assert updated["status"] == "in-progress"
    assert updated["updated_at"] >= made["updated_at"]


def test_update_refuses_unknown_fields_before_touching_the_row(board: IssueBoard) -> None:
    made = board.record("Fixed")
    with pytest.raises(Invalid) as refused:
        board.update(made["id"], {"title": "Changed", "number": 9})
    assert refused.value.field == "number"
    assert board.get(made["id"])["title"] == "Fixed"


def test_a_card_moved_to_another_column_goes_to_its_bottom(board: IssueBoard) -> None:
    ids = [board.record(f"Issue {n}", status="in-progress")["id"] for n in range(2)]
    moved = board.record("Mover")["id"]
    board.update(moved, {"status": "in-progress"})
    assert column(board, "in-progress") == [*ids, moved]
    assert column(board, "open") == []


def test_query_filters_before_it_limits_and_counts_every_match(board: IssueBoard) -> None:
    for n in range(6):
        board.record(f"Bug {n}" if n % 2 else f"Task {n}", tags=["bug"] if n % 2 else ["chore"])
    found, total = board.query(IssueFilter(tags=("bug",), limit=2))
    assert [i["title"] for i in found] == ["Bug 5", "Bug 3"]  # newest first
    assert total == 3
    found, total = board.query(IssueFilter(text="task", limit=10, offset=1))
    assert ([i["title"] for i in found], total) == (["Task 2", "Task 0"], 3)


def test_all_tags_must_match(board: IssueBoard) -> None:
    board.record("Both", tags=["a", "b"])
    board.record("One", tags=["a"])
    found, _ = board.query(IssueFilter(tags=("a", "b")))
    assert [i["title"] for i in found] == ["Both"]


def test_delete_removes_the_issue_and_its_tags(board: IssueBoard) -> None:
    made = board.record("Gone", tags=["t"])
    assert board.delete(made["id"])["title"] == "Gone"
    with pytest.raises(NotFound) as missing:
        board.get(made["id"])
    assert missing.value.field == "issue_id"
    assert board.store.db.execute("SELECT COUNT(*) FROM issue_tags").fetchone()[0] == 0


@pytest.mark.parametrize("bad", ["ISSUE_0", "issue_1", "ISSUE_01", "ISSUE_1x", "1", ""])
def test_an_issue_id_is_ISSUE_and_a_number(bad: str) -> None:
    with pytest.raises((Invalid, NotFound)):
        issue_number(bad)


async def test_every_change_is_one_event_with_the_issue(board: IssueBoard, events: EventBus) -> None:
    subscription = events.subscribe(["issue"])
    made = board.record("Evented")
    board.update(made["id"], {"status": "completed"})
    board.delete(made["id"])
    created, updated, deleted = [await next_event(subscription) for _ in range(3)]
    assert (created["action"], created["issue"]) == ("created", made)
    assert (updated["action"], updated["previous_status"], updated["issue"]["status"]) == (
        "updated",
        "open",
        "completed",
    )
    assert (deleted["action"], deleted["id"]) == ("deleted", made["id"])


async def test_a_refused_update_publishes_nothing(board: IssueBoard, events: EventBus) -> None:
    made = board.record("Quiet")
    subscription = events.subscribe(["issue"])
    with pytest.raises(Invalid):
        board.update(made["id"], {"priority": "extreme"})
    events.publish("issue", action="marker")
    assert (await next_event(subscription))["action"] == "marker"  # nothing came before it


def test_two_boards_on_one_file_never_hand_out_the_same_number(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    Store(path, MIGRATIONS).close()  # migrated once, up front
    numbers: list[str] = []
    errors: list[BaseException] = []

    def writer() -> None:
        store = Store(path, MIGRATIONS)
        try:
            board = IssueBoard(store, EventBus())
            numbers.extend(board.record(f"w{threading.get_ident()} {n}")["id"] for n in range(20))
        except (sqlite3.Error, AssertionError) as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert len(numbers) == len(set(numbers)) == 80
