"""Claim operations: agents take up issues one at a time, and never the same one as another agent."""

from __future__ import annotations

from typing import Any

from murmuration.operations.context import InstanceContext
from murmuration.operations.issues import ISSUE, ISSUE_ID, with_link
from murmuration.operations.table import ADDS, SETS, OperationTable, params_schema, result_schema


def declare(table: OperationTable) -> None:
    """Add claim_issue, release_issue and next_issue to `table`."""

    @table.operation(
        "claim_issue",
        "Take an issue: you become its assignee and it moves to in-progress, in one step. Refused, "
        "naming the holder, while another connected agent holds it or while it waits on unfinished "
        "issues.",
        params_schema({"issue_id": {**ISSUE_ID, "description": "The issue to claim, e.g. ISSUE_3."}}, ("issue_id",)),
        result=ISSUE,
        hints=SETS,
    )
    async def claim_issue(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        issue = ctx.knowledge.issues.claim(params["issue_id"], ctx.caller, ctx.agents.names())
        return with_link(ctx, issue)

    @table.operation(
        "release_issue",
        "Let go of an issue you hold: no assignee, back to open.",
        params_schema({"issue_id": {**ISSUE_ID, "description": "The issue to release, e.g. ISSUE_3."}}, ("issue_id",)),
        result=ISSUE,
        hints=SETS,
    )
    async def release_issue(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        issue = ctx.knowledge.issues.release(params["issue_id"], ctx.caller, ctx.agents.names())
        return with_link(ctx, issue)

    @table.operation(
        "next_issue",
        "The issue to work on next: open, highest priority then oldest, waiting on nothing "
        "unfinished, held by nobody. With claim it is yours in the same step, so two agents never get "
        "the same one. 'issue' is null when none is ready.",
        params_schema(
            {
                "claim": {
                    "type": "boolean",
                    "default": False,
                    "description": "Claim it too, atomically.",
                }
            }
        ),
        result=result_schema({"issue": {"type": ["object", "null"]}}),
        hints=ADDS,  # with claim, each call may take one more issue
    )
    async def next_issue(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        issue = ctx.knowledge.issues.next_ready(ctx.caller, ctx.agents.names(), params.get("claim", False))
        if issue is None:
            return {
                "issue": None,
                "message": "Nothing is ready: every open issue is held or waits on unfinished issues.",
                "web_url": ctx.web_url("issues"),
            }
        linked = with_link(ctx, issue)
        return {"issue": linked, "claimed": bool(params.get("claim")), "web_url": linked["web_url"]}
