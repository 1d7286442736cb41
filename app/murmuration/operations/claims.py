"""Claim operations: agents take up issues one at a time, and never the same one as another agent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from murmuration.core.agents import Caller
from murmuration.core.issues import IssueBoard
from murmuration.operations.context import InstanceContext
from murmuration.operations.issues import ISSUE, ISSUE_ID, with_link
from murmuration.operations.table import ADDS, SETS, OperationTable, params_schema, result_schema

# IssueBoard.claim or IssueBoard.release: the board, the issue, who asks, and which agents are connected.
Change = Callable[[IssueBoard, str, Caller, frozenset[str]], dict[str, Any]]


def declare(table: OperationTable) -> None:
    """Add claim_issue, release_issue and next_issue to `table`."""

    def holding(name: str, description: str, verb: str, change: Change) -> None:
        """Declare `name`: `change` (claim or release) on one issue by the caller, answered with the issue."""

        @table.operation(
            name,
            description,
            params_schema(
                {"issue_id": {**ISSUE_ID, "description": f"The issue to {verb}, e.g. ISSUE_3."}}, ("issue_id",)
            ),
            result=ISSUE,
            hints=SETS,
        )
        async def handler(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
            return with_link(ctx, change(ctx.knowledge.issues, params["issue_id"], ctx.caller, ctx.agents.names()))

    holding(
        "claim_issue",
        "Take an issue: you become its assignee and it moves to in-progress, in one step. Refused, "
        "naming the holder, while another connected agent holds it or while it waits on unfinished "
        "issues.",
        "claim",
        IssueBoard.claim,
    )
    holding(
        "release_issue",
        "Let go of an issue you hold: no assignee, back to open.",
        "release",
        IssueBoard.release,
    )

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
