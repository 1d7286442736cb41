"""The Agents view and the board's holders in Chromium, with agents connected to the instance as bridges are."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest
from playwright.sync_api import expect
from websockets.sync.client import ClientConnection, connect

from tests.dashboard.conftest import Dashboard, goto
from tests.waiting import until


class Agent:
    """A named session held open for the test, as an agent's MCP bridge holds one."""

    def __init__(self, socket: ClientConnection, name: str) -> None:
        self.socket = socket
        self._ids = itertools.count(1)
        self.name = self.call("identify", {"name": name, "client": f"{name} 1.0"})["name"]

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        request_id = next(self._ids)
        self.socket.send(json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or {}}))
        while True:
            message = json.loads(self.socket.recv(timeout=30))
            if message.get("id") == request_id:
                assert "error" not in message, message
                return message["result"]

    def leave(self) -> None:
        """Hang up, as a bridge does when its agent exits (the fixture's closing it again does nothing)."""
        self.socket.close()


@contextmanager
def connected(dashboard: Dashboard, name: str) -> Iterator[Agent]:
    """An agent named `name` on its own socket to `dashboard`, for as long as the block runs."""
    socket_url = dashboard.url.replace("http://", "ws://") + "ws"
    headers = {"Authorization": f"Bearer {dashboard.token}"}
    with connect(socket_url, additional_headers=headers, max_size=None) as socket:
        yield Agent(socket, name)


@pytest.fixture
def agents(dashboard: Dashboard) -> Iterator[list[Agent]]:
    """Two agents, claude-code and codex, connected for the whole test."""
    with ExitStack() as stack:
        yield [stack.enter_context(connected(dashboard, name)) for name in ("claude-code", "codex")]


def row(page: Any, name: str) -> Any:
    return page.locator(f".agent-list li[data-name='{name}']")


def test_the_agents_view_shows_connected_agents_their_claims_and_reservations_live(
    page: Any, dashboard: Dashboard, agents: list[Agent]
) -> None:
    claude, codex = agents
    goto(page, dashboard, "#/agents")
    expect(page.get_by_role("heading", name="Agents", exact=True)).to_be_visible()
    expect(row(page, "claude-code")).to_be_visible()
    expect(row(page, "codex")).to_be_visible()
    expect(row(page, "claude-code").locator(".agent-client")).to_have_text("claude-code 1.0")
    expect(page.locator(".agent-list li.agent-person")).to_have_count(1)  # this page, a person

    # Live, with no reload: a claim, a reservation, a process — each shows under its agent.
    issue = claude.call("record_issue", {"title": "Fix the parser"})
    claude.call("claim_issue", {"issue_id": issue["id"]})
    expect(row(page, "claude-code").locator(".agent-claims")).to_contain_text(issue["id"])
    codex.call("reserve", {"resources": ["src/db/**"], "reason": "migrating"})
    expect(row(page, "codex").locator(".agent-reservations")).to_have_text("src/db/**")
    reservations = page.locator("table.reservations tbody tr")
    expect(reservations).to_have_count(1)
    expect(reservations.first).to_contain_text("codex")
    expect(reservations.first).to_contain_text("migrating")
    codex.call("ping")
    expect(row(page, "codex").locator(".last-call")).to_contain_text("ping")

    # An agent that leaves takes its reservations with it; its claim stays, shown as held by one who left.
    claude.call("reserve", {"resources": ["docs/**"]})
    expect(reservations).to_have_count(2)
    claude.leave()
    expect(row(page, "claude-code")).to_have_count(0)
    expect(reservations).to_have_count(1)
    expect(page.locator(".left-list li[data-name='claude-code']")).to_contain_text(issue["id"])

    # A person may end another's reservation from here.
    reservations.first.get_by_role("button", name="Release").click()
    expect(page.locator(".reservation-table")).to_contain_text("Nothing is reserved.")
    assert codex.call("list_reservations")["reservations"] == []


def test_the_board_shows_who_holds_a_card_and_what_blocks_it(
    page: Any, dashboard: Dashboard, agents: list[Agent]
) -> None:
    claude, codex = agents
    first = claude.call("record_issue", {"title": "Schema first"})
    second = claude.call("record_issue", {"title": "Then the API", "blocked_by": [first["id"]]})
    goto(page, dashboard, "#/issues")
    blocked = page.locator(f"li.issue-card[data-id='{second['id']}']")
    expect(blocked.locator(".card-blocked")).to_have_text(f"Blocked by {first['id']}")
    codex.call("claim_issue", {"issue_id": first["id"]})
    holder = page.locator(f"li.issue-card[data-id='{first['id']}'] .card-holder")
    expect(holder).to_have_text("codex")
    codex.leave()
    expect(holder).to_have_text("codex (left)")
    claude.call("claim_issue", {"issue_id": first["id"]})  # the next claim takes it
    expect(holder).to_have_text("claude-code")
    claude.call("update_issue", {"issue_id": first["id"], "status": "completed"})
    expect(blocked.locator(".card-blocked")).to_have_count(0)
    until(
        lambda: dashboard.rpc("list_issues", {"ready": True})["issues"][0]["id"] == second["id"], "the next link ready"
    )

    # The details say who made it, who changed it last and what it waits on.
    blocked.locator(".card-link").click()
    dialog = page.locator("dialog.issue-dialog")
    expect(dialog.locator(".blocked-by .done-blocker")).to_have_text(first["id"])
    expect(dialog).to_contain_text("by claude-code")


def test_a_dashboard_page_cannot_pass_for_an_agent(page: Any, dashboard: Dashboard, agents: list[Agent]) -> None:
    goto(page, dashboard, "#/agents")
    # The page's own sign-in opens the socket; asking for an agent's name on it is refused.
    answer = page.evaluate(
        """async () => {
          const { socketProtocols } = await import("/assets/js/session.js");
          return await new Promise((resolve) => {
            const socket = new WebSocket(`ws://${location.host}/ws`, socketProtocols());
            socket.onopen = () => socket.send(JSON.stringify(
                {jsonrpc: "2.0", id: 1, method: "identify", params: {name: "claude-code"}}));
            socket.onmessage = (message) => { resolve(JSON.parse(message.data)); socket.close(); };
          });
        }"""
    )
    assert answer["error"]["code"] == -32009
    assert answer["error"]["data"]["field"] == "name"
    kinds = {(a["name"], a["kind"]) for a in agents[0].call("list_agents")["agents"]}
    assert kinds == {("claude-code", "agent"), ("codex", "agent"), ("person", "person")}


def test_fragments_and_processes_say_who_made_them(page: Any, dashboard: Dashboard, agents: list[Agent]) -> None:
    claude, codex = agents
    fragment = codex.call("record_fragment", {"title": "How claims work", "body": "Atomically.", "type": "note"})
    claude.call("update_fragment", {"id": fragment["id"], "body": "Atomically, in one transaction."})
    goto(page, dashboard, f"#/knowledge/{fragment['id']}")
    expect(page.locator(".fragment-byline")).to_contain_text("by codex")
    expect(page.locator(".fragment-byline")).to_contain_text("by claude-code")
    process = claude.call("start_process", {"command": ["true"], "immediate": True})
    goto(page, dashboard, f"#/processes/{process['id']}")
    expect(page.locator(".fact-started-by dd")).to_have_text("claude-code")
