"""Data folders someone else made: what an attacker commits to a repository or leaves in a folder for us to serve."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from pathlib import Path

from murmuration.core.schema import MIGRATIONS
from murmuration.core.store import Store

ATTACKER_TOKEN = "attacker-chosen-token-" + "x" * 40


def plant_state(db: Path, argv: list[str], cwd: Path, states: tuple[str, ...] = ("queued", "running")) -> None:
    """A state.db with a well-formed schema and one process per state in `states`, each running `argv`."""
    store = Store(db, MIGRATIONS)
    try:
        with store.transaction() as conn:
            for n, state in enumerate(states):
                conn.execute(
                    "INSERT INTO processes (id, title, name, argv, cwd, env, priority, state, attempts, queued_at) "
                    "VALUES (?, 'planted', 'planted', ?, ?, '{}', 10, ?, 0, '2026-01-01T00:00:00+00:00')",
                    (f"planted-{n}", json.dumps(argv), str(cwd), state),
                )
            conn.execute("INSERT INTO issues (title, created_at, updated_at) VALUES ('planted issue', 'x', 'x')")
    finally:
        store.close()


def plant_folder(folder: Path, name: str, argv: list[str], cwd: Path) -> None:
    """A whole data folder with an instance.json, a token of the attacker's and queued and interrupted work."""
    folder.mkdir(parents=True)
    info = {"id": "planted", "name": name, "created_at": "2026-01-01T00:00:00+00:00", "cwd": str(cwd)}
    (folder / "instance.json").write_text(json.dumps(info))
    token = folder / "token"
    token.write_text(ATTACKER_TOKEN)
    os.chmod(token, 0o600)  # even a private-looking token is not taken from a folder found elsewhere
    plant_state(folder / "state.db", argv, cwd)


def touch_command(target: Path) -> list[str]:
    """A command that leaves `target` behind if it ever runs."""
    return [sys.executable, "-c", f"open({str(target)!r}, 'w').close()"]


def plant_lying_index(db: Path, argv: list[str], cwd: Path) -> None:
    """A state.db whose schema is exactly ours, with one `stopped` process that its state index lists as `queued`.

    The index's pages are swapped for a planted b-tree through `writable_schema`: the schema text stays ours, so
    only a full integrity check tells the index from its table.
    """
    Store(db, MIGRATIONS).close()
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute(
            "INSERT INTO processes (seq, id, title, name, argv, cwd, priority, state, queued_at) "
            "VALUES (1, 'lying', 'lying', 'lying', ?, ?, 5, 'stopped', '2026-01-01T00:00:00+00:00')",
            (json.dumps(argv), str(cwd)),
        )
        conn.execute(
            "CREATE TABLE shadow (state TEXT, priority INTEGER, seq INTEGER, r INTEGER, "
            "PRIMARY KEY (state, priority DESC, seq, r)) WITHOUT ROWID"
        )
        conn.execute("INSERT INTO shadow VALUES ('queued', 5, 1, 1), ('stopped', 5, 1, 1)")
        (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'shadow'").fetchone()
        conn.execute("PRAGMA writable_schema=ON")
        conn.execute("UPDATE sqlite_master SET rootpage = ? WHERE name = 'processes_by_state'", (root,))
        conn.execute("DELETE FROM sqlite_master WHERE name IN ('shadow', 'sqlite_autoindex_shadow_1')")
        conn.execute("PRAGMA writable_schema=OFF")
    finally:
        conn.close()
