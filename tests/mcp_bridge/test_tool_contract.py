"""What every tool promises an outside MCP client: described parameters, truthful annotations, and results that
validate against the tool's own outputSchema — checked through the official client, as a real subprocess."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mcp_types as types
from jsonschema import Draft202012Validator
from mcp import Client

from murmuration.mcp_bridge.legacy import MERGED
from murmuration.operations import build_table
from tests.mcp_bridge.conftest import bridge, data_folder, text_of

PRINTS = [sys.executable, "-c", "print('hello from the contract test', flush=True)"]
SLEEPS = [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)"]


def undescribed(schema: dict[str, Any], path: str) -> Iterator[str]:
    """The dotted path of every property, nested ones included, that has no description."""
    for name, field in schema.get("properties", {}).items():
        where = f"{path}.{name}"
        if not field.get("description"):
            yield where
        yield from undescribed(field, where)


def test_every_agent_operation_is_described_annotated_and_has_a_result_schema() -> None:
    missing = []
    for operation in build_table():
        if not operation.for_agents:
            continue
        missing += list(undescribed(operation.params, operation.name))
        if operation.hints is None:
            missing.append(f"{operation.name}: annotations (hints=)")
        if operation.result is None:
            missing.append(f"{operation.name}: result schema (result=)")
        else:
            Draft202012Validator.check_schema(operation.result)
            assert operation.result.get("type") == "object", operation.name
    assert missing == []


def field_names(value: Any) -> Iterator[str]:
    """Every key of a result, nested ones included, but not those of free-form data a caller chose (metadata)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            if key != "metadata":
                yield from field_names(item)
    elif isinstance(value, list):
        for item in value:
            yield from field_names(item)


class Caller:
    """Calls tools with arguments their inputSchema takes, checks each success against its tool's outputSchema,
    and remembers which tools it called."""

    def __init__(self, client: Client, tools: list[types.Tool]) -> None:
        self.client = client
        self.tools = tools
        self.inputs = {tool.name: tool.input_schema for tool in tools}
        self.schemas = {tool.name: tool.output_schema for tool in tools}
        self.called: set[str] = set()

    async def __call__(self, tool: str, **arguments: Any) -> dict[str, Any]:
        refused = [e.message for e in Draft202012Validator(self.inputs[tool]).iter_errors(arguments)]
        assert refused == [], f"{tool}: the test's arguments break the published inputSchema: {refused}"
        result = await self.client.call_tool(tool, arguments)
        assert not result.is_error, f"{tool}: {text_of(result)}"
        structured = result.structured_content
        assert isinstance(structured, dict), tool
        schema = self.schemas[tool]
        assert schema is not None, tool
        errors = [e.message for e in Draft202012Validator(schema).iter_errors(structured)]
        assert errors == [], f"{tool}: {errors}"
        assert [key for key in field_names(structured) if key != key.lower()] == [], f"{tool} answers in camelCase"
        self.called.add(tool)
        return structured


async def listed_tools(client: Client) -> list[types.Tool]:
    tools = (await client.list_tools()).tools
    for tool in tools:
        Draft202012Validator.check_schema(tool.input_schema)
        assert tool.output_schema is not None, tool.name
        Draft202012Validator.check_schema(tool.output_schema)
        hints = tool.annotations
        assert hints is not None, tool.name
        flags = (hints.read_only_hint, hints.destructive_hint, hints.idempotent_hint, hints.open_world_hint)
        assert None not in flags, tool.name
    return tools


async def test_every_tool_answers_its_happy_path_within_its_output_schema(project: Path) -> None:
    async with bridge(project) as client:
        tools = await listed_tools(client)
        call = Caller(client, tools)
        info = await call("get_instance_info", include=["milestone", "agents", "reservations", "queue"])
        assert {"milestone", "agents", "reservations", "queue"} <= set(info)

        issue = await call("record_issue", title="Checkout is slow", content="It takes 4 s.", tags=["perf"])
        assert (await call("list_issues", ids=[issue["id"]]))["issues"][0]["content"] == "It takes 4 s."
        await call("update_issue", issue_id=issue["id"], status="in-progress")
        await call("list_issues")
        await call("set_milestone", title="Beta", target_date="2026-12-31", related_issues=[issue["id"]])

        question = await call("record_fragment", title="Why is checkout slow?", body="It waits on…", type="question")
        answer = await call("record_fragment", title="N+1 queries", body="One query a row.", type="answer")
        linked = await call(
            "update_fragment", id=answer["id"], status="archived", link_to=question["id"], link_type="answers"
        )
        [found] = (await call("list_fragments", query="checkout", links=True))["fragments"]
        assert (found["id"], found["links"][0]["id"]) == (question["id"], linked["link"]["id"])
        await call("list_fragments", ids=[question["id"]])
        await call("update_fragment", id=question["id"], unlink=linked["link"]["id"])

        printed = await call("start_process", command=PRINTS, wait_for={"log": "hello"})
        logs = await call("get_process_logs", process_id=printed["id"], wait_for={"exit": True})
        assert (logs["state"], logs["exit_code"]) == ("stopped", 0)
        assert (await call("list_processes", ids=[printed["id"]]))["processes"][0]["id"] == printed["id"]
        await call("list_processes")
        sleeper = await call("start_process", command=SLEEPS, wait_for={"log": "up"})
        await call("stop_process", process_id=sleeper["id"], timeout=2000)

        assert (await call("set_queue_config", paused=True))["paused"] is True
        queued = await call("start_process", command=PRINTS)
        assert (await call("stop_process", process_id=queued["id"]))["state"] == "cancelled"
        await call("set_queue_config", paused=False, max_concurrent=3)

        await call("claim_issue", issue_id=issue["id"])
        await call("claim_issue", issue_id=issue["id"], release=True)
        assert (await call("claim_issue", issue_id="next"))["id"] == issue["id"]
        reservation = await call("reserve", resources=["src/db/**"], reason="a migration")
        assert (await call("reserve", resources=["src/db/schema.py"], check=True))["free"] is True
        assert (await call("reserve", release=reservation["id"]))["released"] == [reservation["id"]]

        assert (await call("update_fragment", id=answer["id"], delete=True))["deleted"] == answer["id"]
        assert (await call("update_issue", issue_id=issue["id"], delete=True))["deleted"] == issue["id"]
    assert call.called == {tool.name for tool in tools}, "a tool was left out of the happy path"


def merged_operations() -> dict[str, str]:
    """Each agent operation tools/list leaves out, and the tool that does its job now."""
    return {op.name: op.merged_into for op in build_table() if op.for_agents and op.merged_into is not None}


async def test_every_merged_operation_answers_by_its_old_name_without_being_listed(project: Path) -> None:
    merged = merged_operations()
    called: set[str] = set()
    async with bridge(project) as client:
        tools = await listed_tools(client)
        listed = {tool.name for tool in tools}
        assert not listed & set(merged)
        assert set(merged.values()) <= listed, "merged into a tool that is not listed"
        call = Caller(client, tools)

        async def old(tool: str, **arguments: Any) -> dict[str, Any]:
            result = await client.call_tool(tool, arguments)
            assert not result.is_error, f"{tool}: {text_of(result)}"
            assert isinstance(result.structured_content, dict)
            called.add(tool)
            return result.structured_content

        assert (await old("ping"))["pong"] is True
        assert (await old("get_web_ui_url", view="issues", item="ISSUE_1"))["web_url"].endswith("#/issues/ISSUE_1")
        issue = await call("record_issue", title="Old names", content="Still answer.")
        assert (await old("get_issue", issueId=issue["id"]))["content"] == "Still answer."
        await call("set_milestone", title="Compatible")
        assert (await old("get_milestone"))["milestone"]["title"] == "Compatible"
        assert (await old("list_agents"))["agents"][0]["you"] is True
        assert (await old("next_issue"))["issue"]["id"] == issue["id"]
        assert (await old("next_issue", claim=True))["claimed"] is True
        assert (await old("release_issue", issueId=issue["id"]))["status"] == "open"

        first = await call("record_fragment", title="Cache keys", body="By user id.", type="note")
        second = await call("record_fragment", title="Cache ttl", body="Five minutes.", type="note")
        assert (await old("get_fragment", id=first["id"]))["body"] == "By user id."
        assert (await old("search_fragments", query="cache"))["results"]
        link = await old("create_fragment_link", sourceId=second["id"], targetId=first["id"], linkType="related")
        assert (await old("get_fragment_links", fragmentId=first["id"]))["links"][0]["id"] == link["id"]
        assert (await old("delete_fragment_link", linkId=link["id"]))["deleted"] == link["id"]
        assert (await old("delete_fragment", id=second["id"]))["deleted"] == second["id"]

        process = await call("start_process", command=PRINTS)
        assert (await old("wait_for_process", processId=process["id"], exit=True))["wait"]["reason"] == "exit"
        assert (await old("get_process_status", processId=process["id"]))["state"] == "stopped"
        assert (await old("pause_queue"))["paused"] is True
        queued = await call("start_process", command=PRINTS)
        assert (await old("get_queue_status"))["pending"] == 1
        assert (await old("cancel_queued_process", queueId=queued["id"]))["state"] == "cancelled"
        assert (await old("resume_queue"))["paused"] is False

        reservation = await call("reserve", resources=["docs/**"])
        assert [r["id"] for r in (await old("list_reservations"))["reservations"]] == [reservation["id"]]
        assert (await old("check_paths", paths=["docs/index.md"]))["free"] is True  # one's own never blocks
        assert (await old("release", reservationId=reservation["id"]))["released"] == [reservation["id"]]
        assert (await old("delete_issue", issueId=issue["id"]))["deleted"] == issue["id"]
    assert called == set(merged), "an unlisted operation was left out"


async def test_inputs_are_snake_case_the_old_spellings_still_work_and_a_near_miss_is_named(project: Path) -> None:
    async with bridge(project) as client:
        call = Caller(client, (await client.list_tools()).tools)
        advertised = {name for tool in call.tools for name in tool.input_schema.get("properties", {})}
        assert advertised == {name for name in advertised if name == name.lower()}
        # Results answer under the names the inputs take, so a field read back can be sent back.
        queue = await old_spelling(client, "set_queue_config", maxConcurrent=3, retryDelay=500, maxLogSize=1 << 21)
        assert {k: queue["config"][k] for k in ("max_concurrent", "retry_delay_ms", "max_log_bytes")} == {
            "max_concurrent": 3,
            "retry_delay_ms": 500,
            "max_log_bytes": 1 << 21,
        }
        again = await call("set_queue_config", **{k: queue["config"][k] for k in ("max_concurrent", "retry_delay_ms")})
        assert again["config"] == queue["config"]
        first = await call("record_fragment", title="Cache keys", body="By user id.", type="note")
        # The original's spelling on one call, today's on the next: both land in the same field.
        second = await old_spelling(
            client, "record_fragment", title="Cache ttl", body="Five minutes.", type="note", relatedIds=[first["id"]]
        )
        assert second["related_ids"] == [first["id"]]
        link = await call("update_fragment", id=second["id"], link_to=first["id"], link_type="related")
        listed = await call("list_fragments", ids=[first["id"]], links=True)
        assert listed["fragments"][0]["links"][0]["id"] == link["link"]["id"]
        milestone = await call("set_milestone", title="Fast", target_date="2026-12-31")
        assert milestone["milestone"]["target_date"] == "2026-12-31"

        wrong = await client.call_tool("record_issue", {"title": "x", "priorty": "high"})
        assert wrong.is_error
        assert "did you mean 'priority'" in text_of(wrong)


async def old_spelling(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    """Call `tool` with arguments spelt as the original Murmuration spelt them, which tools/list no longer shows."""
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, f"{tool}: {text_of(result)}"
    assert isinstance(result.structured_content, dict)
    return result.structured_content


def test_every_snake_case_parameter_takes_its_camel_case_spelling_too() -> None:
    for operation in build_table():
        names = [name for name in operation.params.get("properties", {}) if "_" in name]
        camel = {name.split("_")[0] + "".join(w.title() for w in name.split("_")[1:]): name for name in names}
        spelt = {**camel, **operation.aliases}
        assert operation.snake_cased(dict.fromkeys(spelt, 1)) == dict.fromkeys(spelt.values(), 1), operation.name


def database_state(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of an instance's state.db, read through a connection of its own."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        names = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {name: sorted(map(tuple, conn.execute(f'SELECT * FROM "{name}"')), key=repr) for name in names}


async def test_a_read_only_tool_changes_nothing(project: Path) -> None:
    async with bridge(project) as client:
        tools = await listed_tools(client)
        call = Caller(client, tools)
        issue = await call("record_issue", title="Flaky login", content="Fails one time in ten.")
        fragment = await call("record_fragment", title="Login flakes", body="A race in the session.", type="note")
        other = await call("record_fragment", title="Session race", body="Fixed by a lock.", type="solution")
        await call("update_fragment", id=other["id"], link_to=fragment["id"], link_type="related")
        await call("set_milestone", title="Stable login")
        process = await call("start_process", command=PRINTS, wait_for={"log": "hello"})
        await call("get_process_logs", process_id=process["id"], wait_for={"exit": True})

        # Each read-only tool in each of its ways: the jobs merged into it are read-only too.
        happy: dict[str, list[dict[str, Any]]] = {
            "get_instance_info": [{}, {"include": ["milestone", "agents", "reservations", "queue"]}],
            "list_issues": [{}, {"ids": [issue["id"]]}, {"ready": True}],
            "list_fragments": [{}, {"ids": [fragment["id"]], "links": True}, {"query": "login", "links": True}],
            "list_processes": [{}, {"ids": [process["id"]]}],
            "get_process_logs": [
                {"process_id": process["id"]},
                {"process_id": process["id"], "wait_for": {"exit": True}},
            ],
        }
        read_only = [tool.name for tool in tools if tool.annotations and tool.annotations.read_only_hint]
        db = data_folder(project).state_db
        before = database_state(db)
        for name in read_only:
            for arguments in happy.get(name, [{}]):
                await call(name, **arguments)
        assert database_state(db) == before
    assert set(read_only) <= call.called
    assert set(read_only) == set(happy)
    table = build_table()
    for name, merged_into in merged_operations().items():
        operation = table.get(name)
        assert operation is not None
        if merged_into in read_only:
            assert operation.hints is not None
            assert operation.hints.read_only, f"{name} is merged into a read"


async def test_the_originals_merged_tool_names_answer_without_being_listed(project: Path) -> None:
    async with bridge(project) as client:
        listed = {tool.name for tool in (await client.list_tools()).tools}
        assert not listed & set(MERGED)
        call = Caller(client, (await client.list_tools()).tools)
        fragment = await call("record_fragment", title="Deploy steps", body="Build, then push.", type="documentation")
        other = await call("record_fragment", title="Rollback", body="Push the last tag.", type="documentation")
        await call("update_fragment", id=other["id"], link_to=fragment["id"], link_type="related")

        async def old(tool: str, **arguments: Any) -> dict[str, Any]:
            result = await client.call_tool(tool, arguments)
            assert not result.is_error, f"{tool}: {text_of(result)}"
            assert isinstance(result.structured_content, dict)
            return result.structured_content

        found = await old("search_fragments_by_title", title="Deploy steps")
        assert found["results"][0]["fragment"]["id"] == fragment["id"]
        similar = await old("search_fragments_similar", query="push", threshold=0.5, limit=5)
        assert {hit["fragment"]["id"] for hit in similar["results"]} == {fragment["id"], other["id"]}
        advanced = await old("search_fragments_advanced", textSearch="Rollback", type="documentation", sortBy="title")
        assert [f["id"] for f in advanced["fragments"]] == [other["id"]]
        assert (await old("get_fragment_with_links", id=fragment["id"]))["title"] == "Deploy steps"
        links = await old("traverse_fragment_links", fragmentId=fragment["id"], maxDepth=2)
        assert [link["source_id"] for link in links["links"]] == [other["id"]]
        assert (await old("get_fragment_stats"))["total"] == 2
