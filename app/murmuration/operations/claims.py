"""Claim operations: agents take up issues one at a time, and never the same one as another agent."""

from __future__ import annotations

from typing import Any

from murmuration.contract import INVALID_PARAMS
from murmuration.operations.context import InstanceContext
from murmuration.operations.issues import ISSUE, ISSUE_FIELDS, ISSUE_ID, with_link
from murmuration.operations.table import ADDS, SETS, OperationError, OperationTable, params_schema, result_schema

# What claim_issue takes instead of an id to take the best ready issue.
NEXT = "next"
NOTHING_READY = "Nothing is ready: every open issue is held or waits on unfinished issues."


def declare(table: OperationTable) -> None:
    """Add claim_issue, release_issue and next_issue to `table`."""

    @table.operation(
        "claim_issue",
        "Take an issue (you become its assignee, it goes in-progress) unless another agent holds it or it "
        "waits on unfinished issues.",
        params_schema(
            {
                "issue_id": {**ISSUE_ID, "description": "e.g. ISSUE_3; 'next': the best ready one."},
                "release": {"type": "boolean", "description": "Let go instead: back to open."},
            },
            ("issue_id",),
        ),
        # Without an issue ready for 'next', the answer is only a message.
        result=result_schema({**ISSUE_FIELDS, "message": {"type": "string"}}, *ISSUE_FIELDS, "message"),
        hints=ADDS,  # with 'next', each call may take one more issue
    )
    async def claim_issue(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        board, issue_id, present = ctx.knowledge.issues, params["issue_id"], ctx.agents.names()
        if params.get("release"):
            if issue_id == NEXT:
                raise OperationError(
                    "Invalid parameter 'issue_id': release lets go of one issue you hold; give its id, e.g. ISSUE_3.",
                    INVALID_PARAMS,
                    {"field": "issue_id"},
                )
            return with_link(ctx, board.release(issue_id, ctx.caller, present))
        if issue_id != NEXT:
            return with_link(ctx, board.claim(issue_id, ctx.caller, present))
        issue = board.next_ready(ctx.caller, present, True)
        return (
            with_link(ctx, issue) if issue is not None else {"message": NOTHING_READY, "web_url": ctx.web_url("issues")}
        )

    @table.operation(
        "release_issue",
        "Let go of an issue you hold: no assignee, back to open.",
        params_schema({"issue_id": {**ISSUE_ID, "description": "The issue to release, e.g. ISSUE_3."}}, ("issue_id",)),
        result=ISSUE,
        hints=SETS,
        merged_into="claim_issue",
    )
    async def release_issue(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        return with_link(ctx, ctx.knowledge.issues.release(params["issue_id"], ctx.caller, ctx.agents.names()))

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
        merged_into="claim_issue",
    )
    async def next_issue(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        issue = ctx.knowledge.issues.next_ready(ctx.caller, ctx.agents.names(), params.get("claim", False))
        if issue is None:
            return {"issue": None, "message": NOTHING_READY, "web_url": ctx.web_url("issues")}
        linked = with_link(ctx, issue)
        return {"issue": linked, "claimed": bool(params.get("claim")), "web_url": linked["web_url"]}
