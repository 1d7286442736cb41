"""Real damage for tests: a page of state.db overwritten with random bytes, and a tiny tmpfs that fills up."""

from __future__ import annotations

import contextlib
import hashlib
import random
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from murmuration.core.events import EventBus
from murmuration.core.knowledge import KnowledgeBase

PAGE = 4096  # SQLite's default page size, which every store here uses


def fill(path: Path, issues: int = 300) -> None:
    """A store at `path` with `issues` issues of 500 characters each (many pages of b-tree)."""
    kb = KnowledgeBase.open(path, EventBus())
    try:
        for n in range(issues):
            kb.issues.record(f"issue {n}", "x" * 500, tags=[f"t{n % 5}"])
    finally:
        kb.close()


def overwrite_page(path: Path, seed: int = 14) -> int:
    """Overwrite one page in the middle of the (checkpointed) database with random bytes; its number."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    pages = path.stat().st_size // PAGE
    page = pages // 2
    with open(path, "r+b") as f:
        f.seek(page * PAGE)
        f.write(random.Random(seed).randbytes(PAGE))
    return page


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextmanager
def tiny_disk(where: Path, size: str = "2m") -> Iterator[Path]:
    """A tmpfs of `size` mounted at `where` (needs root), unmounted afterwards whatever happens."""
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill_disk(folder: Path, leave: int = 0, name: str = "filler") -> Path:
    """A filler file taking all of `folder`'s disk but `leave` bytes; delete it to give the room back."""
    filler = folder / name
    free = shutil.disk_usage(folder).free
    with open(filler, "wb") as f, contextlib.suppress(OSError):  # full already: good
        f.write(b"\0" * max(0, free - leave))
        f.flush()
    return filler
