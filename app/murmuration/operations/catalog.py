"""Every operation an instance offers, gathered into one table."""

from __future__ import annotations

from murmuration.operations import agents, claims, instance, issues, knowledge, processes, reservations
from murmuration.operations.table import OperationTable


def build_table() -> OperationTable:
    """The table of every operation, in a stable order."""
    table = OperationTable()
    instance.declare(table)
    processes.declare(table)
    issues.declare(table)
    claims.declare(table)
    issues.declare_folder_exchange(table)
    knowledge.declare(table)
    agents.declare(table)
    reservations.declare(table)
    return table
