"""The knowledge operations (operations/issues.py, operations/knowledge.py) against hostile input over the socket.

Too-big messages, too-long text, control characters, unknown and malformed ids: each gets a clear error that
names the field or the limit, the connection and the server survive, and nothing is half-written.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from murmuration.client import InstanceClient, RpcError, socket_url
from murmuration.contract import INVALID_PARAMS, NOT_FOUND
from murmuration.core.fields import MAX_TEXT
from murmuration.server.lifecycle import RunningInstance

MESSAGE_TOO_BIG = 1009
FIXTURE = Path(__file__).parent.parent / "fixtures" / "knowledge"
BAD_ISSUE_IDS = ["ISSUE_0", "ISSUE_-1", "ISSUE_abc", "issue_1", "ISSUE_99999999999999999999", "ISSUE_1.0", "ISSUE_ 1"]
BAD_ISSUE_IDS += ["ISSUE_01", "", "ISSUE_1\x00", "'; DROP TABLE issues; --", "ISSUE_1 OR 1=1", "ISSUE_٣"]


async def refused(client: InstanceClient, method: str, params: dict[str, Any]) -> RpcError:
    with pytest.raises(RpcError) as caught:
        await client.call(method, params)
    return caught.value


def counts(instance: RunningInstance) -> tuple[int, int, int]:
    """Issues, fragments and links in state.db, read directly."""
    db = instance.ctx.knowledge.store.db

    def count(table: str) -> int:
        return int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])

    return count("issues"), count("fragments"), count("fragment_links")


async def still_answers(instance: RunningInstance) -> None:
    async with await InstanceClient.connect(instance.url, instance.token) as fresh:
        assert (await fresh.call("ping"))["pong"] is True


# --- too big --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("record_issue", {"title": "Huge", "content": "x" * 10_000_000}),
        ("record_fragment", {"title": "Huge", "type": "note", "body": "x" * 10_000_000}),
    ],
)
async def test_a_10_mb_message_closes_the_socket_with_1009_and_writes_nothing(
    instance: RunningInstance, method: str, params: dict[str, Any]
) -> None:
    message = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
    assert len(message) > 10_000_000
    async with connect(
        socket_url(instance.url), additional_headers={"Authorization": f"Bearer {instance.token}"}, max_size=None
    ) as ws:
        with contextlib.suppress(ConnectionClosed):  # it may close while the frame is still going out
            await asyncio.wait_for(ws.send(message), 30)
        with pytest.raises(ConnectionClosed) as caught:
            await asyncio.wait_for(ws.recv(), 30)
    assert caught.value.rcvd is not None
    assert caught.value.rcvd.code == MESSAGE_TOO_BIG
    assert counts(instance) == (0, 0, 0)
    await still_answers(instance)


@pytest.mark.parametrize(
    ("method", "params", "field"),
    [
        ("record_issue", {"title": "Long", "content": "x" * 200_000}, "content"),
        ("record_fragment", {"title": "Long", "type": "note", "body": "x" * 200_000}, "body"),
    ],
)
async def test_a_200_000_character_text_is_refused_naming_the_limit(
    instance: RunningInstance, client: InstanceClient, method: str, params: dict[str, Any], field: str
) -> None:
    assert len(json.dumps(params)) < 1 << 20  # under the frame limit: the operation itself must refuse it
    error = await refused(client, method, params)
    assert error.code == INVALID_PARAMS
    assert error.data["field"] == field
    assert f"{MAX_TEXT:,}" in error.message or str(MAX_TEXT) in error.message, error.message[:300]
    assert len(error.message) < 1000, f"the refusal echoes the text back ({len(error.message):,} characters)"
    assert counts(instance) == (0, 0, 0)


async def test_an_update_with_a_200_000_character_text_leaves_the_item_as_it_was(client: InstanceClient) -> None:
    issue = await client.call("record_issue", {"title": "Kept", "content": "small"})
    fragment = await client.call("record_fragment", {"title": "Kept", "type": "note", "body": "small"})
    error = await refused(client, "update_issue", {"issue_id": issue["id"], "content": "y" * 200_000, "title": "New"})
    assert error.data["field"] == "content"
    error = await refused(client, "update_fragment", {"id": fragment["id"], "body": "y" * 200_000, "title": "New"})
    assert error.data["field"] == "body"
    assert await client.call("get_issue", {"issue_id": issue["id"]}) == issue
    assert await client.call("get_fragment", {"id": fragment["id"]}) == fragment


async def test_text_at_the_limit_is_accepted(client: InstanceClient) -> None:
    issue = await client.call("record_issue", {"title": "Full", "content": "z" * MAX_TEXT})
    assert len((await client.call("get_issue", {"issue_id": issue["id"]}))["content"]) == MAX_TEXT


# --- control characters ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x07", "\x08", "\x1b", "\x7f", "\x0b", "\x0c"])
@pytest.mark.parametrize(
    ("method", "params", "field"),
    [
        ("record_issue", {"title": "bad{c}title"}, "title"),
        ("record_issue", {"title": "ok", "content": "bad{c}content"}, "content"),
        ("record_fragment", {"title": "bad{c}title", "type": "note", "body": "b"}, "title"),
        ("record_fragment", {"title": "ok", "type": "note", "body": "bad{c}body"}, "body"),
        ("set_milestone", {"title": "bad{c}title"}, "title"),
        ("set_milestone", {"title": "ok", "description": "bad{c}description"}, "description"),
    ],
)
async def test_control_characters_are_refused_naming_the_field(
    instance: RunningInstance, client: InstanceClient, char: str, method: str, params: dict[str, Any], field: str
) -> None:
    filled = {k: v.format(c=char) if isinstance(v, str) else v for k, v in params.items()}
    error = await refused(client, method, filled)
    assert error.code == INVALID_PARAMS
    assert error.data["field"] == field
    assert field in error.message
    assert counts(instance) == (0, 0, 0)
    assert (await client.call("get_milestone"))["milestone"] is None


@pytest.mark.parametrize("char", ["\x00", "\x1f"])
async def test_control_characters_in_an_update_are_refused_and_change_nothing(
    client: InstanceClient, char: str
) -> None:
    issue = await client.call("record_issue", {"title": "Clean", "content": "clean"})
    for params, field in (({"title": f"a{char}b"}, "title"), ({"content": f"a{char}b"}, "content")):
        error = await refused(client, "update_issue", {"issue_id": issue["id"], **params})
        assert (error.code, error.data["field"]) == (INVALID_PARAMS, field)
    assert await client.call("get_issue", {"issue_id": issue["id"]}) == issue


async def test_tabs_newlines_and_unicode_are_welcome_in_text(client: InstanceClient) -> None:
    content = "line one\n\tindented\r\nemoji 😀, RTL שלום, zero-width\u200bjoiner, combining e\u0301"
    issue = await client.call("record_issue", {"title": "Ünïcödé 😀 שלום", "content": content})
    got = await client.call("get_issue", {"issue_id": issue["id"]})
    assert (got["title"], got["content"]) == ("Ünïcödé 😀 שלום", content)


async def test_a_lone_surrogate_is_refused_naming_the_field(instance: RunningInstance) -> None:
    """JSON may escape half a UTF-16 pair; such a string cannot be stored and must be refused, not crash the call."""
    raw = '{"jsonrpc":"2.0","id":1,"method":"record_issue","params":{"title":"half \\ud800 pair"}}'
    async with connect(
        socket_url(instance.url), additional_headers={"Authorization": f"Bearer {instance.token}"}
    ) as ws:
        await ws.send(raw)
        answer = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert answer.get("error", {}).get("code") == INVALID_PARAMS, answer  # not -32603, an internal error
    assert answer["error"]["data"]["field"] == "title"
    assert counts(instance) == (0, 0, 0)
    await still_answers(instance)


# --- unknown and malformed ids ------------------------------------------------------------------------------------


@pytest.mark.parametrize("issue_id", BAD_ISSUE_IDS)
async def test_unknown_issue_ids_are_not_found_for_every_issue_operation(
    instance: RunningInstance, client: InstanceClient, issue_id: str
) -> None:
    await client.call("record_issue", {"title": "The only one"})
    for method, extra in (("get_issue", {}), ("update_issue", {"status": "archived"}), ("delete_issue", {})):
        error = await refused(client, method, {"issue_id": issue_id, **extra})
        assert error.code == NOT_FOUND, (method, error.message)
        assert error.data == {"field": "issue_id"}
    assert (await client.call("get_issue", {"issue_id": "ISSUE_1"}))["status"] == "open"
    assert counts(instance) == (1, 0, 0)


async def test_an_overlong_issue_id_is_refused_as_a_bad_parameter(client: InstanceClient) -> None:
    error = await refused(client, "get_issue", {"issue_id": "ISSUE_" + "9" * 100})
    assert error.code == INVALID_PARAMS
    assert error.data["field"] == "issue_id"


@pytest.mark.parametrize("fragment_id", ["no-such-id", "00000000-0000-0000-0000-000000000000", "' OR 1=1 --", "%", "*"])
async def test_unknown_fragment_ids_are_not_found_for_every_fragment_operation(
    client: InstanceClient, fragment_id: str
) -> None:
    known = await client.call("record_fragment", {"title": "Known", "type": "note", "body": "b"})
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("get_fragment", {"id": fragment_id}, "id"),
        ("update_fragment", {"id": fragment_id, "title": "x"}, "id"),
        ("delete_fragment", {"id": fragment_id}, "id"),
        ("get_fragment_links", {"fragmentId": fragment_id}, "fragment_id"),
        (
            "create_fragment_link",
            {"sourceId": fragment_id, "targetId": known["id"], "linkType": "related"},
            "source_id",
        ),
        (
            "create_fragment_link",
            {"sourceId": known["id"], "targetId": fragment_id, "linkType": "related"},
            "target_id",
        ),
        ("delete_fragment_link", {"linkId": fragment_id}, "link_id"),
    ]
    for method, params, field in cases:
        error = await refused(client, method, params)
        assert error.code == NOT_FOUND, (method, error.message)
        assert error.data == {"field": field}, method
    assert await client.call("get_fragment", {"id": known["id"]}) == known


# --- every result carries web_url -----------------------------------------------------------------------------


async def test_every_knowledge_result_carries_web_url(instance: RunningInstance, client: InstanceClient) -> None:
    base = instance.url
    issue = await client.call("record_issue", {"title": "Linked"})
    first = await client.call("record_fragment", {"title": "One", "type": "question", "body": "why"})
    second = await client.call("record_fragment", {"title": "Two", "type": "answer", "body": "because"})
    link = await client.call(
        "create_fragment_link", {"sourceId": second["id"], "targetId": first["id"], "linkType": "answers"}
    )
    results = {
        "record_issue": issue,
        "get_issue": await client.call("get_issue", {"issue_id": issue["id"]}),
        "list_issues": await client.call("list_issues"),
        "update_issue": await client.call("update_issue", {"issue_id": issue["id"], "priority": "low"}),
        "set_milestone": await client.call("set_milestone", {"title": "Goal"}),
        "get_milestone": await client.call("get_milestone"),
        "record_fragment": first,
        "get_fragment": await client.call("get_fragment", {"id": first["id"]}),
        "list_fragments": await client.call("list_fragments"),
        "update_fragment": await client.call("update_fragment", {"id": first["id"], "tags": ["t"]}),
        "search_fragments": await client.call("search_fragments", {"query": "why"}),
        "create_fragment_link": link,
        "get_fragment_links": await client.call("get_fragment_links", {"fragmentId": first["id"]}),
        "delete_fragment_link": await client.call("delete_fragment_link", {"linkId": link["id"]}),
        "delete_fragment": await client.call("delete_fragment", {"id": second["id"]}),
        "delete_issue": await client.call("delete_issue", {"issue_id": issue["id"]}),
    }
    for method, result in results.items():
        assert result["web_url"].startswith(base), method
    assert results["get_issue"]["web_url"] == f"{base}#/issues/{issue['id']}"
    assert results["get_fragment"]["web_url"] == f"{base}#/knowledge/{first['id']}"
    assert results["list_issues"]["issues"][0]["web_url"] == f"{base}#/issues/{issue['id']}"
    assert results["list_fragments"]["fragments"][0]["web_url"].startswith(f"{base}#/knowledge/")
    assert results["search_fragments"]["results"][0]["web_url"] == f"{base}#/knowledge/{first['id']}"


# --- import and export as operations ----------------------------------------------------------------------------


async def test_import_and_export_operations(instance: RunningInstance, client: InstanceClient, tmp_path: Path) -> None:
    report = await client.call("import_knowledge", {"path": str(FIXTURE)})
    assert report["added"] == ["ISSUE_2", "ISSUE_3", "ISSUE_10", "ISSUE_12", "ISSUE_25"]
    assert report["milestone"] == "imported"
    assert {s["path"] for s in report["skipped"]} == {
        "open/ISSUE_10.md",
        "open/ISSUE_40.md",
        "open/ISSUE_41.md",
        "open/ISSUE_42.md",
        "open/notes.md",
    }
    assert report["web_url"] == f"{instance.url}#/issues"
    out = tmp_path / "out"
    written = await client.call("export_knowledge", {"path": str(out)})
    assert len(written["written"]) == 6
    assert (out / "in-progress" / "ISSUE_10.md").is_file()


async def test_import_of_a_missing_folder_is_refused_naming_path(client: InstanceClient, tmp_path: Path) -> None:
    error = await refused(client, "import_knowledge", {"path": str(tmp_path / "missing")})
    assert error.code == INVALID_PARAMS
    assert error.data == {"field": "path"}


@pytest.mark.parametrize("method", ["import_knowledge", "export_knowledge"])
async def test_a_relative_path_is_refused_not_resolved_against_the_server(
    client: InstanceClient, method: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The path must be absolute (its description says so): the server's working directory is nobody's choice."""
    monkeypatch.chdir(tmp_path)  # where a relative path would land, in this in-process server
    (tmp_path / "relative-board").mkdir()
    await client.call("record_issue", {"title": "Exported"})
    error = await refused(client, method, {"path": "relative-board"})
    assert error.code == INVALID_PARAMS
    assert error.data["field"] == "path"
    assert list((tmp_path / "relative-board").iterdir()) == []
