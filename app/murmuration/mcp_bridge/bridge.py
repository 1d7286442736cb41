"""The stdio MCP server: the operation table's tools, each call forwarded to the instance as a JSON-RPC call.

Nothing an agent sends ends the bridge: every failure comes back as a tool result with `isError` and a sentence.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Coroutine, Mapping
from typing import Any

import mcp_types as types
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

from murmuration import __version__
from murmuration.client import RpcError
from murmuration.datafolder import DataFolder, DataFolderError
from murmuration.mcp_bridge import legacy, results
from murmuration.mcp_bridge.link import InstanceLink, Unreachable
from murmuration.mcp_bridge.tools import agent_operations, agent_tools
from murmuration.operations import OperationTable

log = logging.getLogger("murmuration.mcp.bridge")

# The instance closes a socket whose message exceeds 1 MiB (server/app.py MAX_MESSAGE); refusing larger arguments
# here keeps one oversized call from costing every other call its connection.
MAX_ARGUMENTS = (1 << 20) - 4096
EXAMPLES = ("record_issue", "list_issues", "start_process")
# Tools that can wait (for readiness, an exit, a stop): they report progress while waiting, to a client that asked.
WAITS = ("wait_for_process", "get_process_logs", "start_process", "stop_process")
PROGRESS_EVERY = 1.0
JSON_TYPES = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean"}


class Bridge:
    """The tools of one instance, served to one agent."""

    def __init__(self, folder: DataFolder, link: InstanceLink, table: OperationTable) -> None:
        self.folder = folder
        self.link = link
        self.tools = agent_tools(table)
        # What an agent may call: the listed tools and the operations merged into them, by their own names.
        self.names = {operation.name for operation in agent_operations(table)}
        self._tasks: set[asyncio.Task[None]] = set()

    def server(self) -> Server[Any]:
        """The MCP server, with explicit handlers: the tools are data, generated at run time."""
        server: Server[Any] = Server(
            "murmuration",
            version=__version__,
            title="Murmuration",
            instructions=self.instructions(),
            on_list_tools=self.list_tools,
            on_call_tool=self.call_tool,
        )
        server.middleware.append(refuse_malformed_tool_calls)
        server.middleware.append(self.learn_agent_name)
        return server

    async def learn_agent_name(self, ctx: ServerRequestContext[Any], call_next: CallNext) -> HandlerResult:
        """Take the agent's name from its MCP client's `initialize` (clientInfo), unless a person chose one, and
        name the session on the instance at once, so other agents see who joined before its first call."""
        result = await call_next(ctx)
        params = ctx.params
        if ctx.method == "initialize" and isinstance(params, Mapping):
            info = params.get("clientInfo")
            if isinstance(info, Mapping) and self.link.identity.learn_client(info.get("name"), info.get("version")):
                task = asyncio.create_task(self.link.identify())
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        return result

    def instructions(self) -> str:
        try:
            info = self.folder.read_info()
            which = f"the Murmuration instance {info.name!r} (id {info.id})"
        except DataFolderError:
            which = f"the Murmuration instance in {self.folder.path}"
        # Said once here rather than in every tool's description, where it cost a sixth of tools/list.
        return (
            f"These tools act on {which}: its processes and queue, its issue board and milestone, and its knowledge "
            "fragments, shared with the other agents and people who use it. Every result is JSON with web_url, a "
            "link into that instance's dashboard; give it to the person you work for when they should look.\n"
            "A usual day: read the board (list_issues ready, get_instance_info include milestone), take an issue "
            "(claim_issue), run and watch your commands (start_process with wait_for, get_process_logs with "
            "wait_for exit), then record what you learned (record_fragment; list_fragments query first).\n"
            "Lists filter before they limit and 'total' counts every match; their items are excerpts unless "
            "full or ids. An item's page is its list's web_url with /ID added (#/issues/ISSUE_3)."
        )

    async def list_tools(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=self.tools)

    async def call_tool(
        self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        name, arguments = legacy.translated(params.name, params.arguments or {})
        call = self.forward(name, arguments)
        if name not in WAITS:
            return await call
        return await with_progress(ctx, name, call)

    async def forward(self, name: str, arguments: dict[str, Any]) -> types.CallToolResult:
        """Run tool `name` on the instance; any failure becomes a tool error with a sentence."""
        if name not in self.names:
            shown = name if len(name) <= 80 else name[:80] + "…"
            return results.failure(
                f"There is no tool named {shown!r}; tools/list lists the {len(self.tools)} tools "
                f"(e.g. {', '.join(EXAMPLES)}).",
                "unknown_tool",
            )
        # A list names its items by id when an agent wants them whole (get_issue's job): no excerpts then.
        full = "ids" in arguments
        if name in results.EXCERPTED and "full" in arguments:
            full = arguments["full"]
            if not isinstance(full, bool):
                return results.failure(
                    f"Invalid parameter 'full' for {name}: it must be true or false.", "invalid_params"
                )
            arguments = {k: v for k, v in arguments.items() if k != "full"}
        try:
            size = len(json.dumps(arguments))
        except (ValueError, RecursionError):
            return results.failure(f"The arguments of {name} are nested too deeply to forward; flatten them.")
        if size > MAX_ARGUMENTS:
            return results.failure(
                f"The arguments of {name} are too large ({size} bytes; the limit is 1 MiB); send less text, "
                "e.g. spread it over several calls.",
                "too_large",
            )
        try:
            result, note = await self.link.call(name, arguments)
        except RpcError as exc:
            return results.refused(exc, f"see {self.folder.server_log}")
        except Unreachable as exc:
            return results.failure(str(exc))
        except Exception as exc:  # the bridge must outlive any one call
            log.exception("%s failed in the bridge", name)
            return results.failure(
                f"The bridge failed on {name} ({type(exc).__name__}); retry, and if it persists see "
                f"{self.folder.log_folder / 'mcp-bridge.log'}.",
                "bridge_error",
            )
        return results.success(name, result, note, full)

    async def warm_up(self) -> None:
        """Connect (starting the server if none runs) before the first call needs it."""
        try:
            await self.link.connected()
            await self.link.identify()
        except Unreachable as exc:
            log.warning("%s", exc)  # the first call reports it to the agent
        except Exception:
            log.exception("connecting to the instance failed")


async def with_progress(
    ctx: ServerRequestContext[Any], name: str, call: Coroutine[Any, Any, types.CallToolResult]
) -> types.CallToolResult:
    """Await `call`, sending progress (seconds waited) every PROGRESS_EVERY seconds when the client gave a progress
    token. A cancel from the client cancels this at once; the process waited on keeps running."""
    task = asyncio.ensure_future(call)
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=PROGRESS_EVERY)
            if done:
                return task.result()
            waited = loop.time() - started
            await ctx.session.report_progress(round(waited, 1), None, f"{name}: still waiting after {waited:.0f} s")
    except asyncio.CancelledError:
        log.info("%s cancelled by the client; the process keeps running", name)
        raise
    finally:
        task.cancel()


async def refuse_malformed_tool_calls(ctx: ServerRequestContext[Any], call_next: CallNext) -> HandlerResult:
    """Turn a call whose name is not a string, or whose arguments are not an object, into a tool error the agent
    can correct rather than a protocol error."""
    params = ctx.params
    if ctx.method == "tools/call" and isinstance(params, Mapping):
        if not isinstance(params.get("name"), str):
            return results.failure(
                "A tool call needs the tool's name as a string; tools/list lists them.", "invalid_params"
            )
        arguments = params.get("arguments")
        if arguments is not None and not isinstance(arguments, dict):
            kind = JSON_TYPES.get(type(arguments), "anything else")
            return results.failure(
                f"The arguments of a tool call must be a JSON object of named parameters, not {kind}; "
                'e.g. {"title": "Fix the login page"} for record_issue.',
                "invalid_params",
            )
    return await call_next(ctx)


async def run(folder: DataFolder, link: InstanceLink, table: OperationTable) -> None:
    """Serve MCP on stdin/stdout until the agent closes stdin."""
    bridge = Bridge(folder, link, table)
    server = bridge.server()
    warm_up = asyncio.create_task(bridge.warm_up())
    try:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())
    finally:
        warm_up.cancel()
        await link.close()
        log.info("agent left; bridge stopped")
