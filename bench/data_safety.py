"""What the data-safety checks cost: the start-up integrity check and a backup, beside their baselines.

For stores of a few sizes (issues of 500 characters, with tags), in one run:
- open: a plain sqlite3 open with the store's pragmas (baseline) vs `Store(...)`, which adds quick_check and
  foreign_key_check — the price every `murmuration serve` pays at start;
- backup: a plain file copy (baseline: not consistent while the server writes) vs `make_backup`, which copies
  with SQLite's backup API and checks the copy before keeping it — the price of the daily backup.

    .venv/bin/python bench/data_safety.py [--sizes 1000,10000,50000] [--runs 5]
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "app"))

from murmuration.core import backups
from murmuration.core.events import EventBus
from murmuration.core.knowledge import KnowledgeBase
from murmuration.core.schema import MIGRATIONS
from murmuration.core.store import Store


def build(path: Path, issues: int) -> None:
    kb = KnowledgeBase.open(path, EventBus())
    with kb.store.transaction() as db:
        for n in range(issues):
            values = {"title": f"issue {n}", "content": "x" * 500, "tags": [f"t{n % 9}"]}
            kb.issues.insert(db, kb.issues.checked({**values, "status": "open", "priority": "medium"}), "now", "now")
    kb.close()


def plain_open(path: Path) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=5000"):
        db.execute(f"PRAGMA {pragma}")
    db.execute("PRAGMA user_version").fetchone()
    db.close()


def checked_open(path: Path) -> None:
    Store(path, MIGRATIONS).close()


def timed(action: object, runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        action()  # type: ignore[operator]
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"{'issues':>8} {'MB':>6} {'open (plain)':>13} {'open+checks':>12} {'copy (plain)':>13} {'backup+check':>13}")
    for size in (int(s) for s in args.sizes.split(",")):
        measure(size, args.runs)


def measure(size: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "state.db"
        build(path, size)
        mb = path.stat().st_size / 1e6
        plain = timed(lambda: plain_open(path), runs)
        checked = timed(lambda: checked_open(path), runs)
        copies = iter(range(10**6))
        copy = timed(lambda: shutil.copyfile(path, Path(tmp) / f"copy-{next(copies)}.db"), runs)
        backup = timed(lambda: backups.make_backup(path, "bench"), runs)
        print(
            f"{size:>8} {mb:>6.1f} {plain * 1000:>10.1f} ms {checked * 1000:>9.1f} ms "
            f"{copy * 1000:>10.1f} ms {backup * 1000:>10.1f} ms"
        )


if __name__ == "__main__":
    main()
