"""Dashboard sessions without any I/O: made, used, expired by an injected clock, revoked, saved as hashes only."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import pytest

from murmuration import sessions as module
from murmuration.server.static import dashboard_root
from murmuration.sessions import (
    IDLE_LIFETIME,
    MAX_SESSIONS,
    SAVE_USE_EVERY,
    SessionRecord,
    Sessions,
    load_sessions,
    save_sessions,
    session_id,
)

HOST = "127.0.0.1:8080"


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_session_is_random_and_found_only_by_its_secret_and_host() -> None:
    book = Sessions(Clock())
    first, second = book.create(HOST), book.create(HOST)
    assert first != second
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", first)  # 256 bits, and a valid subprotocol token
    assert book.find(first, HOST) == session_id(first)
    assert book.find(first, "LOCALHOST:8080".lower()) is None
    assert book.find(first, "127.0.0.1:8081") is None
    assert book.find(first[:-1], HOST) is None
    assert book.find("", HOST) is None


def test_a_session_ends_after_twelve_hours_without_use_and_each_use_extends_it() -> None:
    clock = Clock()
    book = Sessions(clock)
    secret = book.create(HOST)
    sid = session_id(secret)
    clock.now += IDLE_LIFETIME - 1
    assert book.touch(sid)
    clock.now += IDLE_LIFETIME - 1
    assert book.find(secret, HOST) == sid
    assert book.touch(sid)
    clock.now += IDLE_LIFETIME
    assert book.find(secret, HOST) is None
    assert not book.touch(sid)
    assert book.summary()["count"] == 0


def test_a_lookup_alone_is_not_a_use() -> None:
    clock = Clock()
    book = Sessions(clock)
    secret = book.create(HOST)
    clock.now += IDLE_LIFETIME / 2
    assert book.find(secret, HOST)
    clock.now += IDLE_LIFETIME / 2
    assert book.find(secret, HOST) is None


def test_revoking_ends_every_session_and_tells_the_listeners_which() -> None:
    book = Sessions(Clock())
    secrets = [book.create(HOST) for _ in range(3)]
    told: list[frozenset[str]] = []
    book.on_revoke(told.append)
    assert book.revoke_all() == 3
    assert told == [frozenset(session_id(s) for s in secrets)]
    assert all(book.find(s, HOST) is None for s in secrets)
    assert not book.touch(session_id(secrets[0]))
    assert book.revoke_all() == 0


def test_the_summary_counts_and_names_the_last_use_but_no_secret() -> None:
    clock = Clock()
    book = Sessions(clock)
    assert book.summary()["count"] == 0
    assert book.summary()["last_used"] is None
    old = book.create(HOST)
    clock.now += 60
    book.create(HOST)
    clock.now += 60
    book.touch(session_id(old))
    summary = book.summary()
    assert summary["count"] == 2
    assert summary["last_used"] == "2023-11-14T22:15:20Z"
    assert [s["last_used"] for s in summary["sessions"]] == ["2023-11-14T22:15:20Z", "2023-11-14T22:14:20Z"]
    assert session_id(old) not in json.dumps(summary)
    assert old not in json.dumps(summary)


def test_the_book_is_bounded_and_drops_the_least_recently_used() -> None:
    clock = Clock()
    book = Sessions(clock)
    made = []
    for _ in range(MAX_SESSIONS):
        made.append(book.create(HOST))
        clock.now += 1
    book.touch(session_id(made[0]))  # the oldest, but just used
    newest = book.create(HOST)
    assert book.summary()["count"] == MAX_SESSIONS
    assert book.find(made[0], HOST)
    assert book.find(newest, HOST)
    assert book.find(made[1], HOST) is None


def test_changes_are_saved_at_once_but_uses_only_coarsely() -> None:
    clock = Clock()
    saved: list[list[SessionRecord]] = []
    book = Sessions(clock, on_change=saved.append)
    secret = book.create(HOST)
    assert len(saved) == 1
    assert [r.id for r in saved[0]] == [session_id(secret)]
    for _ in range(10):
        clock.now += 1
        assert book.touch(session_id(secret))
    assert len(saved) == 1
    clock.now += SAVE_USE_EVERY
    book.touch(session_id(secret))
    assert len(saved) == 2
    assert saved[1][0].last_used == clock.now
    book.revoke_all()
    assert saved[-1] == []


def test_records_that_come_back_keep_working_and_expire_as_before() -> None:
    clock = Clock()
    first = Sessions(clock)
    secret = first.create(HOST)
    clock.now += 3600
    again = Sessions(clock, first.records())
    assert again.find(secret, HOST) == session_id(secret)
    clock.now += IDLE_LIFETIME - 3600
    assert Sessions(clock, first.records()).find(secret, HOST) is None


def test_a_last_use_in_the_future_counts_as_now() -> None:
    clock = Clock()
    secret = "s" * 43
    future = SessionRecord(session_id(secret), HOST, clock.now, clock.now + 10 * 365 * 86400)
    book = Sessions(clock, [future])
    clock.now += IDLE_LIFETIME
    assert book.find(secret, HOST) is None


# --- on disk --------------------------------------------------------------------------------------------------


def test_the_file_holds_hashes_only_and_is_private(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    book = Sessions(Clock(), on_change=lambda records: save_sessions(path, records))
    secret = book.create(HOST)
    text = path.read_text()
    assert secret not in text
    assert session_id(secret) in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Sessions(Clock(), load_sessions(path)).find(secret, HOST) == session_id(secret)


def test_saving_replaces_a_planted_symlink_instead_of_writing_through_it(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("keep")
    path = tmp_path / "sessions.json"
    path.symlink_to(target)
    assert load_sessions(path) == []  # a link is never read
    save_sessions(path, [])
    assert target.read_text() == "keep"
    assert not path.is_symlink()


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not json",
        b"[]",
        b'{"version": 2, "sessions": []}',
        b'{"version": 1, "sessions": {}}',
        b'{"version": 1, "sessions": [{"id": "x"}]}',
        b'{"version": 1, "sessions": [{"id": "x", "host": "h", "created": "soon", "last_used": 1}]}',
        b"\xff\xfe",
    ],
)
def test_a_damaged_file_means_no_sessions(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "sessions.json"
    path.write_bytes(content)
    assert load_sessions(path) == []


def test_a_missing_file_or_a_folder_in_its_place_means_no_sessions(tmp_path: Path) -> None:
    assert load_sessions(tmp_path / "missing.json") == []
    (tmp_path / "dir.json").mkdir()
    assert load_sessions(tmp_path / "dir.json") == []
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    assert load_sessions(fifo) == []  # refused without blocking on the pipe


def test_the_dashboard_shares_the_protocol_names_and_close_code() -> None:
    script = (dashboard_root() / "js" / "session.js").read_text()
    constants = dict(re.findall(r'export const (\w+) = "?([^";]+)"?;', script))
    assert constants["PROTOCOL"] == module.PROTOCOL
    assert constants["SESSION_PREFIX"] == module.SESSION_PREFIX
    assert int(constants["CLOSE_SIGNED_OUT"]) == module.CLOSE_SIGNED_OUT
