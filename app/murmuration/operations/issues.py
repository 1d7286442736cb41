"""Issue and milestone operations: the kanban board agents and people share."""

from __future__ import annotations

from typing import Any

from murmuration.core import fields
from murmuration.core.issues import STATUSES, IssueFilter
from murmuration.operations.context import InstanceContext
from murmuration.operations.table import (
    ADDS,
    INTEGER,
    READS,
    REPLACES,
    STRING,
    UNLISTED,
    OperationTable,
    alone,
    items_by_id,
    params_schema,
    result_schema,
)

ISSUE_ID = {"type": "string", "description": "e.g. ISSUE_3.", "maxLength": 40}
TITLE = {"type": "string", "minLength": 1, "maxLength": fields.MAX_TITLE, "description": "One line."}
CONTENT = {"type": "string", "maxLength": fields.MAX_TEXT, "description": "Markdown."}
STATUS = {"type": "string", "enum": list(STATUSES), "description": "Kanban column."}
PRIORITY = {"type": "string", "enum": list(fields.PRIORITIES), "description": "Urgency."}
TAGS = {
    "type": "array",
    "items": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,50}$"},
    "maxItems": fields.MAX_TAGS,
    "description": "e.g. ['perf'].",
}
ASSIGNEE = {"type": ["string", "null"], "maxLength": 200, "description": "Who works on it (null: nobody)."}
DATE = {"type": ["string", "null"], "pattern": r"^\d{4}-\d{2}-\d{2}$", "description": "e.g. 2026-12-31."}
ISSUE_IDS = {"type": "array", "items": ISSUE_ID, "maxItems": 100, "description": "Related issue ids."}
LIMIT = {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50, "description": "At most (50)."}
OFFSET = {"type": "integer", "minimum": 0, "maximum": 1_000_000, "default": 0, "description": "Skip this many."}
ISSUE_FIELDS = {"id": STRING, "title": STRING, "status": STRING, "priority": STRING}
ISSUE = result_schema(ISSUE_FIELDS)
# An issue in a list: an MCP agent gets it as an excerpt, without a link of its own.
ISSUE_ITEM = {"type": "object", "properties": ISSUE_FIELDS, "required": list(ISSUE_FIELDS)}
MILESTONE = result_schema({"milestone": {"type": ["object", "null"]}})
BLOCKED_BY = {
    **ISSUE_IDS,
    "description": "Ids it waits on, e.g. ['ISSUE_2'].",
}


def with_link(ctx: InstanceContext, issue: dict[str, Any]) -> dict[str, Any]:
    """An issue as an answer shows it: whether its assignee is connected now, and its dashboard link."""
    assignee = issue["assignee"]
    connected = None if assignee is None else assignee in ctx.agents.names()
    return {**issue, "assignee_connected": connected, "web_url": ctx.web_url("issues", issue["id"])}


def deleted(ctx: InstanceContext, issue_id: str) -> dict[str, Any]:
    """Delete an issue for good; the answer names it."""
    issue = ctx.knowledge.issues.delete(issue_id)
    return {"deleted": issue["id"], "title": issue["title"], "web_url": ctx.web_url("issues")}


def declare(table: OperationTable) -> None:
    """Add the issue and milestone operations to `table`."""

    @table.operation(
        "record_issue",
        "Add an issue to the kanban board; its id is ISSUE_<n>.",
        params_schema(
            {
                "title": TITLE,
                "content": CONTENT,
                "tags": TAGS,
                "priority": PRIORITY,
                "status": STATUS,
                "blocked_by": BLOCKED_BY,
            },
            required=("title",),
        ),
        result=ISSUE,
        hints=ADDS,
    )
    async def record_issue(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        issue = ctx.knowledge.issues.record(
            params["title"],
            params.get("content", ""),
            priority=params.get("priority", "medium"),
            tags=params.get("tags"),
            status=params.get("status", "open"),
            blocked_by=params.get("blocked_by"),
            by=ctx.caller.name,
        )
        return with_link(ctx, issue)

    @table.operation(
        "get_issue",
        "One issue by id, with its whole content.",
        params_schema({"issue_id": ISSUE_ID}, required=("issue_id",)),
        result=ISSUE,
        hints=READS,
        merged_into="list_issues",
    )
    async def get_issue(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        return with_link(ctx, ctx.knowledge.issues.get(params["issue_id"]))

    @table.operation(
        "list_issues",
        "Issues on the board, newest first.",
        params_schema(
            {
                "ids": {**ISSUE_IDS, "description": "Just these, e.g. ['ISSUE_3'], whole."},
                "status": STATUS,
                "priority": PRIORITY,
                "tags": TAGS,
                "text": {"type": "string", "maxLength": 200, "description": "Words in the title or content."},
                "ready": {
                    "type": "boolean",
                    "description": "Only ones you can take now, best first.",
                },
                "limit": LIMIT,
                "offset": OFFSET,
            }
        ),
        result=result_schema({"issues": {"type": "array", "items": ISSUE_ITEM}, "total": INTEGER}),
        hints=READS,
    )
    async def list_issues(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        if "ids" in params:
            alone(params, "ids")
            issues = items_by_id(params["ids"], ctx.knowledge.issues.get)
            return {
                "issues": [with_link(ctx, i) for i in issues],
                "total": len(issues),
                "web_url": ctx.web_url("issues"),
            }
        query = IssueFilter(
            status=params.get("status"),
            priority=params.get("priority"),
            tags=tuple(params.get("tags", ())),
            text=params.get("text"),
            ready_for=(ctx.caller, ctx.agents.names()) if params.get("ready") else None,
            limit=params.get("limit", 50),
            offset=params.get("offset", 0),
        )
        issues, total = ctx.knowledge.issues.query(query)
        return {
            "issues": [with_link(ctx, i) for i in issues],
            "total": total,
            "web_url": ctx.web_url("issues"),
        }

    @table.operation(
        "update_issue",
        "Change the fields given; a new status moves the card.",
        params_schema(
            {
                "issue_id": ISSUE_ID,
                "title": TITLE,
                "content": CONTENT,
                "status": STATUS,
                "priority": PRIORITY,
                "tags": TAGS,
                "assignee": {
                    **ASSIGNEE,
                    "description": "Who works on it (null: nobody); agents use claim_issue.",
                    UNLISTED: True,
                },
                "due_date": DATE,
                "related_ids": ISSUE_IDS,
                "blocked_by": BLOCKED_BY,
                "delete": {"type": "boolean", "description": "Delete it for good."},
            },
            required=("issue_id",),
        ),
        result=result_schema({**ISSUE_FIELDS, "deleted": STRING}, *ISSUE_FIELDS, "deleted"),
        hints=REPLACES,
    )
    async def update_issue(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("delete"):
            alone(params, "delete", "issue_id")
            return deleted(ctx, params["issue_id"])
        changes = {k: v for k, v in params.items() if k not in ("issue_id", "delete")}
        issue = ctx.knowledge.issues.update(params["issue_id"], changes, ctx.caller, ctx.agents.names())
        return with_link(ctx, issue)

    @table.operation(
        "delete_issue",
        "Delete an issue for good.",
        params_schema({"issue_id": ISSUE_ID}, required=("issue_id",)),
        result=result_schema({"deleted": STRING, "title": STRING}),
        hints=REPLACES,
        merged_into="update_issue",
    )
    async def delete_issue(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        return deleted(ctx, params["issue_id"])

    @table.operation(
        "get_milestone",
        "The milestone this instance works toward (title, description, target date, progress, related "
        "issues), or null.",
        params_schema({}),
        result=MILESTONE,
        hints=READS,
        merged_into="get_instance_info",
    )
    async def get_milestone(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"milestone": ctx.knowledge.milestone.get(), "web_url": ctx.web_url()}

    @table.operation(
        "set_milestone",
        "Set the board's milestone: the fields given.",
        params_schema(
            {
                "title": TITLE,
                "description": {"type": "string", "maxLength": 2000, "description": "Markdown."},
                "target_date": DATE,
                "progress": {"type": "integer", "minimum": 0, "maximum": 100, "description": "Percent done, 0-100."},
                "related_issues": ISSUE_IDS,
            }
        ),
        result=MILESTONE,
        hints=REPLACES,
    )
    async def set_milestone(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"milestone": ctx.knowledge.milestone.set(params, ctx.caller.name), "web_url": ctx.web_url()}


def declare_folder_exchange(table: OperationTable) -> None:
    """Import from and export to the original Murmuration's `.knowledge/` layout (for people's tools)."""
    import asyncio
    from pathlib import Path

    folder = {"type": "string", "minLength": 1, "maxLength": 4096, "description": "An absolute folder path."}

    @table.operation(
        "import_knowledge",
        "Import the issues and milestone of an original Murmuration .knowledge/ folder, keeping ids and times.",
        params_schema({"path": folder}, required=("path",)),
        for_agents=False,
    )
    async def import_knowledge(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        # Imported when used: YAML parsing is no part of what an MCP bridge loads before it can answer.
        from murmuration.core.knowledge_folder import import_contents, read_folder

        # Reading files is the slow part (a folder on a network share, thousands of files): it runs in a thread
        # so the server keeps answering; the one transaction that writes them runs here, with every other write.
        contents = await asyncio.to_thread(read_folder, ctx.knowledge, Path(params["path"]))
        report = import_contents(ctx.knowledge, contents)
        return {**report.as_dict(), "web_url": ctx.web_url("issues")}

    @table.operation(
        "export_knowledge",
        "Write the issues and milestone to a folder in the original Murmuration .knowledge/ layout.",
        params_schema({"path": folder}, required=("path",)),
        for_agents=False,
    )
    async def export_knowledge(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        from murmuration.core.knowledge_folder import read_board, write_folder

        written = await asyncio.to_thread(write_folder, read_board(ctx.knowledge), Path(params["path"]))
        return {**written, "web_url": ctx.web_url("issues")}
