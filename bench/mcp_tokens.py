"""What an agent pays to read the bridge's answers, each beside its budget, and its start-up beside a trivial server.

Sizes are bytes of each block a model may read on its own: the text block, and the structured content as
compact JSON. Budgets: tools/list ≤ 12 kB; list_issues of 50 issues with 2 kB bodies ≤ 16 kB per block;
get_process_logs of 100 typical lines ≤ 1.3× the raw log bytes per block; no text block larger than 1.2× the
compact JSON of its structured content. Start-up: spawn → initialize answered, and → first tools/call answered,
for `murmuration mcp` (cold: no instance runs yet; warm: it runs) and for a one-tool server on the same SDK.

    .venv/bin/python bench/mcp_tokens.py [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mcp_types as types
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client

TOOLS_LIST_BUDGET = 12_000
# Before one tool per job: 38 tools, one per operation.
TOOLS_LIST_BEFORE = 30_482
LIST_ISSUES_BUDGET = 16_000
LOG_RATIO_BUDGET = 1.3
TEXT_RATIO_BUDGET = 1.2
LOG_LINE = "2026-12-01 10:00:{:02d} INFO GET /api/items/{} 200 in 12 ms (cache hit, worker 3)"
TRIVIAL_SERVER = """
import anyio
import mcp_types as types
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

async def list_tools(ctx, params):
    return types.ListToolsResult(tools=[types.Tool(name="ping", input_schema={"type": "object"})])

async def call_tool(ctx, params):
    return types.CallToolResult(content=[types.TextContent(text="pong")])

async def main():
    server = Server("trivial", on_list_tools=list_tools, on_call_tool=call_tool)
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())

anyio.run(main)
"""


def compact(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def blocks(result: types.CallToolResult) -> tuple[int, int]:
    """Bytes of the text block and of the structured content as compact JSON."""
    text = "".join(b.text for b in result.content if isinstance(b, types.TextContent))
    return len(text.encode()), compact(result.structured_content)


@dataclass
class Figures:
    tools_list: int = 0
    list_issues: tuple[int, int] = (0, 0)
    log_raw: int = 0
    logs: tuple[int, int] = (0, 0)
    worst_text_ratio: tuple[str, float] = ("", 0.0)
    ratios: dict[str, float] = field(default_factory=dict)

    def problems(self) -> list[str]:
        """Each budget this run broke, as a sentence."""
        found = []
        if self.tools_list > TOOLS_LIST_BUDGET:
            found.append(f"tools/list is {self.tools_list} bytes (budget {TOOLS_LIST_BUDGET})")
        if max(self.list_issues) > LIST_ISSUES_BUDGET:
            found.append(f"list_issues blocks are {self.list_issues} bytes (budget {LIST_ISSUES_BUDGET})")
        if max(self.logs) > LOG_RATIO_BUDGET * self.log_raw:
            found.append(f"get_process_logs blocks are {self.logs} bytes for {self.log_raw} raw")
        for tool, ratio in self.ratios.items():
            if ratio > TEXT_RATIO_BUDGET:
                found.append(f"{tool}'s text is {ratio:.2f}× its compact JSON")
        return found


def child_env() -> dict[str, str]:
    """This environment as a user's would be: Python may cache bytecode and buffer output (a test machine's
    PYTHONDONTWRITEBYTECODE would make every start-up compile every module of the bridge, not of the SDK)."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED")}


def bridge_params(project: Path) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable, args=["-m", "murmuration", "mcp"], cwd=str(project), env=child_env()
    )


async def sizes(project: Path) -> Figures:
    """Fill an instance with 50 long issues and a 100-line log, and weigh what the agent reads of them."""
    figures = Figures()
    async with Client(stdio_client(bridge_params(project), errlog=subprocess.DEVNULL)) as client:
        tools = (await client.list_tools()).tools
        figures.tools_list = compact([t.model_dump(by_alias=True, exclude_none=True, mode="json") for t in tools])

        async def call(tool: str, **arguments: Any) -> types.CallToolResult:
            result = await client.call_tool(tool, arguments)
            assert not result.is_error, result.content
            text, structured = blocks(result)
            figures.ratios[tool] = max(figures.ratios.get(tool, 0.0), text / structured)
            return result

        body = ("The checkout page waits on the payment service before it renders the basket. " * 30)[:2000]
        for n in range(50):
            await call("record_issue", title=f"Checkout is slow on step {n}", content=body, tags=["perf"])
        figures.list_issues = blocks(await call("list_issues", limit=50))

        lines = [LOG_LINE.format(n % 60, n) for n in range(100)]
        script = f"print({chr(10).join(lines)!r}, flush=True)"
        started = await call("start_process", command=[sys.executable, "-c", script], tty=False)
        await call("wait_for_process", process_id=started.structured_content["id"], exit=True)  # type: ignore[index]
        logs = await call("get_process_logs", process_id=started.structured_content["id"], log_type="stdout")  # type: ignore[index]
        figures.log_raw = sum(len(line.encode()) + 1 for line in lines)
        figures.logs = blocks(logs)
        for tool in ("ping", "get_instance_info", "get_milestone", "get_queue_status", "list_processes"):
            await call(tool)
        await call("get_instance_info", include=["milestone", "agents", "reservations", "queue"])
    figures.worst_text_ratio = max(figures.ratios.items(), key=lambda kv: kv[1])
    return figures


async def start_up(params: StdioServerParameters, tool: str = "get_instance_info") -> tuple[float, float]:
    """Seconds from spawn to initialize answered, and to the first tools/call answered (of a listed tool: the
    client lists the tools again before it takes the answer of an unlisted one)."""
    start = time.perf_counter()
    async with Client(stdio_client(params, errlog=subprocess.DEVNULL)) as client:
        initialized = time.perf_counter() - start
        await client.call_tool(tool, {})
        return initialized, time.perf_counter() - start


def isolated(root: Path) -> Path:
    """A fresh base folder and git project under `root`, set in this process's environment for the bridges."""
    os.environ["MURMURATION_HOME"] = str(root / "home")
    os.environ.setdefault("MURMURATION_PORT_RANGE", "29600-29699")
    os.environ.setdefault("MURMURATION_PROCESS_PORT_RANGE", "29700-29799")
    project = root / "shop"
    project.mkdir()
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    return project


def stop_instances() -> None:
    from murmuration import registry
    from murmuration.control import stop_instance

    for folder in registry.managed_folders():
        stop_instance(folder, timeout=10)


async def main(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        project = isolated(Path(tmp))
        trivial = Path(tmp) / "trivial.py"
        trivial.write_text(TRIVIAL_SERVER)
        trivial_params = StdioServerParameters(command=sys.executable, args=[str(trivial)], env=child_env())
        try:
            cold = await start_up(bridge_params(project))
            figures = await sizes(project)
            # Alternated, so a machine busy for a while slows both alike.
            warm: list[tuple[float, float]] = []
            base: list[tuple[float, float]] = []
            for _ in range(runs):
                warm.append(await start_up(bridge_params(project)))
                base.append(await start_up(trivial_params, "ping"))
        finally:
            await asyncio.to_thread(stop_instances)
    print(
        f"tools/list                 {figures.tools_list:>7} B   budget {TOOLS_LIST_BUDGET}, "
        f"before one tool per job {TOOLS_LIST_BEFORE}"
    )
    text, structured = figures.list_issues
    print(f"list_issues 50×2 kB        text {text} B, structured {structured} B   budget {LIST_ISSUES_BUDGET} each")
    text, structured = figures.logs
    print(
        f"get_process_logs 100 lines text {text} B, structured {structured} B for {figures.log_raw} raw "
        f"({text / figures.log_raw:.2f}×, {structured / figures.log_raw:.2f}×)   budget {LOG_RATIO_BUDGET}×"
    )
    tool, ratio = figures.worst_text_ratio
    print(f"largest text/compact JSON  {ratio:.2f}× ({tool})   budget {TEXT_RATIO_BUDGET}×")

    def ms(values: list[float]) -> str:
        return f"{statistics.median(values) * 1000:6.0f} ms"

    print(f"bridge cold  → initialize {cold[0] * 1000:6.0f} ms, → first call {cold[1] * 1000:6.0f} ms")
    print(f"bridge warm  → initialize {ms([w[0] for w in warm])}, → first call {ms([w[1] for w in warm])}")
    print(f"trivial SDK  → initialize {ms([b[0] for b in base])}, → first call {ms([b[1] for b in base])}")
    for problem in figures.problems():
        print(f"OVER BUDGET: {problem}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    asyncio.run(main(parser.parse_args().runs))
