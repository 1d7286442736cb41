"""The budgets of bench/mcp_tokens.py, held by the suite: what an agent reads of a result must not grow back."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).parents[2] / "bench" / "mcp_tokens.py"


def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mcp_tokens", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("mcp_tokens", module)
    spec.loader.exec_module(module)
    return module


async def test_each_block_an_agent_reads_stays_within_its_budget(project: Path) -> None:
    tokens = bench()
    figures = await tokens.sizes(project)
    assert figures.problems() == []
    assert figures.tools_list <= tokens.TOOLS_LIST_BUDGET
