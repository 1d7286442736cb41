"""The operation table and every operation an instance offers."""

from murmuration.operations.catalog import build_table
from murmuration.operations.context import InstanceContext
from murmuration.operations.table import Operation, OperationError, OperationTable

__all__ = ["InstanceContext", "Operation", "OperationError", "OperationTable", "build_table"]
