"""The daily backup: while an instance runs, a checked copy of state.db goes to backups/ once a day.

The clock is the newest backup on disk, not the server's uptime, so an instance started and stopped
every few hours is still backed up daily. A copy that fails its check means the store itself is
damaged: the store turns read-only at once, and the good backups stay (none is rotated out for it).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from datetime import UTC, datetime

from murmuration.core import backups
from murmuration.core.errors import Damaged, DiskFull
from murmuration.core.store import Store

log = logging.getLogger("murmuration.backups")

DAY = 24 * 3600.0
RETRY = 3600.0  # after a failed backup (a full disk, say), try again this much later
EVERY_ENV = "MURMURATION_BACKUP_EVERY"


def backup_interval() -> float:
    """Seconds between backups: MURMURATION_BACKUP_EVERY when it is a positive number, else a day."""
    try:
        value = float(os.environ.get(EVERY_ENV, ""))
    except ValueError:
        return DAY
    return value if 0 < value < float("inf") else DAY


def seconds_until_due(store: Store, every: float) -> float:
    """How long until the next backup is due: `every` after the newest one (now when there is none)."""
    found = backups.backups(backups.backup_folder(store.path))
    if not found:
        return 0.0
    age = (datetime.now(UTC) - found[0].taken).total_seconds()
    return min(every, max(0.0, every - age))  # a backup stamped in the future does not postpone them all


async def back_up_regularly(store: Store, every: float) -> None:
    """Make a backup whenever one is due, for as long as the store is sound."""
    while True:
        await asyncio.sleep(seconds_until_due(store, every))
        if store.damage is not None:
            return
        try:
            made = await asyncio.to_thread(backups.make_backup, store.path, "daily")
        except Damaged as exc:
            store.damage_found(exc.reason)
            return
        except (DiskFull, OSError, sqlite3.Error) as exc:
            log.warning("the daily backup failed (%s); trying again in %.0f s", exc, min(every, RETRY))
            await asyncio.sleep(min(every, RETRY))
            continue
        log.info("backed up state.db to %s", made)
