"""Claim operations: agents take up issues one at a time, and never the same one as another agent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from murmuration.core.agents import Caller
from murmuration.core.issues import IssueBoard
from murmuration.operations.context import InstanceContext
from murmuration.operations.issues import ISSUE_ID, with_link
from murmuration.operations.table import OperationTable, params_schema

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
        )
        async def handler(ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
            return with_link(ctx, change(ctx.knowledge.issues, params["issue_id"], ctx.caller, ctx.agents.names()))

    holding(
        "claim_issue",
        "Take up an issue: you become its assignee and the card moves to in-progress, in one step. Refused, naming "
        "the holder and since when, while another connected agent holds it; an issue whose holder has left can "
        "be claimed. Refused too while it waits on unfinished issues.",
        "claim",
        IssueBoard.claim,
    )
    holding(
        "release_issue",
        "Let go of an issue you hold: it has no assignee again and goes back to open. (Completing it with "
        "update_issue releases it too.)",
        "release",
        IssueBoard.release,
    )

    @table.operation(
        "next_issue",
        "Get the issue to work on next: the highest-priority (then oldest) open issue that waits on no unfinished "
        "issue and that nobody else holds. With claim, it is claimed for you in the same step, so two agents "
        "asking at once never get the same one. 'issue' is null when nothing is ready.",
        params_schema(
            {
                "claim": {
                    "type": "boolean",
                    "default": False,
                    "description": "Claim the issue too (as claim_issue does), atomically.",
                }
            }
        ),
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
