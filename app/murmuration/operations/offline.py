"""An instance's operations without its server: a command runs them on a stopped instance, under its lock.

The same operation code runs as when a server answers, so a command that works on a stopped instance
validates, refuses and reports exactly as it does on a running one. `instance_context` is the one place the
context is put together, for a server (server/lifecycle.py) as for a command.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from murmuration import __version__
from murmuration.core.agents import Agents
from murmuration.core.events import EventBus
from murmuration.core.knowledge import KnowledgeBase
from murmuration.core.processes import ProcessManager
from murmuration.core.reservations import Reservations
from murmuration.datafolder import DataFolder, InstanceInfo, now_iso
from murmuration.lock import FolderLock
from murmuration.operations.catalog import build_table
from murmuration.operations.context import InstanceContext
from murmuration.operations.table import OperationError
from murmuration.sessions import Sessions


def instance_context(
    info: InstanceInfo,
    port: int,
    knowledge: KnowledgeBase,
    processes: ProcessManager,
    events: EventBus,
    sessions: Sessions | None = None,
    request_shutdown: Callable[[], None] = lambda: None,
) -> InstanceContext:
    """The context of an instance this process opened just now, with its own agents and reservations on `events`.

    A server passes its saved sessions and its stop switch; a command has neither (nobody signs in to it or stops it).
    """
    agents = Agents(events)
    return InstanceContext(
        info=info,
        port=port,
        version=__version__,
        started_at=now_iso(),
        pid=os.getpid(),
        knowledge=knowledge,
        processes=processes,
        agents=agents,
        reservations=Reservations(events, agents),
        events=events,
        sessions=sessions if sessions is not None else Sessions(),
        request_shutdown=request_shutdown,
    )


@asynccontextmanager
async def offline_instance(folder: DataFolder) -> AsyncIterator[InstanceContext]:
    """Own `folder` under its lock and give operations its context, with no server and nothing running.

    Raises FolderLocked when a server owns the folder (ask that server instead) and StoreError when its
    database cannot be opened.
    """
    lock = FolderLock(folder.lock_file)
    lock.acquire()
    try:
        info = folder.read_info()
        events = EventBus()
        knowledge = KnowledgeBase.open(folder.state_db, events)
        try:
            # The process manager is never opened: nothing is recovered, scheduled or started by a command.
            processes = ProcessManager(knowledge.store, events, folder.log_folder / "processes", info.cwd, ())
            # Nobody is connected to a stopped instance: its writes are nobody's, and nothing can be held.
            yield instance_context(info, info.last_port or 0, knowledge, processes, events)
        finally:
            knowledge.close()
    finally:
        lock.release()


async def run_offline(folder: DataFolder, method: str, params: dict[str, Any]) -> dict[str, Any]:
    """Run operation `method` on the stopped instance in `folder`; OperationError when it refuses."""
    operation = build_table().get(method)
    if operation is None:
        raise OperationError(f"No operation is named {method!r}.")
    async with offline_instance(folder) as ctx:
        return await operation.run(ctx, params)
