"""JSON-RPC behaviour over a real socket: answers, errors that name the field, and events."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from murmuration.client import InstanceClient, RpcError, socket_url
from murmuration.server.lifecycle import RunningInstance


async def raw_exchange(instance: RunningInstance, payload: str | bytes) -> object:
    async with connect(
        socket_url(instance.url), additional_headers={"Authorization": f"Bearer {instance.token}"}
    ) as ws:
        await ws.send(payload)
        return json.loads(await asyncio.wait_for(ws.recv(), 10))


async def test_get_instance_info_names_this_instance(instance: RunningInstance, client: InstanceClient) -> None:
    info = await client.call("get_instance_info")
    assert info["name"] == "Test Instance"
    assert info["port"] == instance.ctx.port
    assert info["web_url"] == instance.url
    assert info["cwd"] == instance.ctx.info.cwd


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, "/"),
        ({"view": "queue"}, "/#/queue"),
        ({"view": "issues", "item": "ISSUE_3"}, "/#/issues/ISSUE_3"),
        ({"view": "knowledge", "item": "a b/../c"}, "/#/knowledge/a%20b%2F..%2Fc"),
    ],
)
async def test_get_web_ui_url_deep_links_into_this_instance(
    instance: RunningInstance, client: InstanceClient, params: dict[str, str], expected: str
) -> None:
    result = await client.call("get_web_ui_url", params)
    assert result["web_url"] == instance.url.rstrip("/") + expected


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"view": "nowhere"}, "view"),
        ({"view": 3}, "view"),
        ({"item": "ISSUE_1"}, "view"),
        ({"view": "issues", "colour": "red"}, "colour"),
        ({"view": "issues", "item": ""}, "item"),
    ],
)
async def test_bad_parameters_get_an_error_naming_the_field(
    client: InstanceClient, params: dict[str, object], field: str
) -> None:
    with pytest.raises(RpcError) as caught:
        await client.call("get_web_ui_url", params)
    assert caught.value.code == -32602
    assert caught.value.data["field"] == field
    assert field in caught.value.message


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ("{not json", -32700),
        (b"\xff\xfe", -32700),
        ("[" * 100_000 + "]" * 100_000, -32700),
        ("[]", -32600),
        ("42", -32600),
        ('"text"', -32600),
        ('{"jsonrpc": "1.0", "id": 1, "method": "get_instance_info"}', -32600),
        ('{"jsonrpc": "2.0", "id": 1, "method": 7}', -32600),
        ('{"jsonrpc": "2.0", "id": {"x": 1}, "method": "get_instance_info"}', -32600),
        ('{"jsonrpc": "2.0", "id": 1, "method": "drop_tables"}', -32601),
        ('{"jsonrpc": "2.0", "id": 1, "method": "get_instance_info", "params": [1, 2]}', -32602),
        ('{"jsonrpc": "2.0", "id": 1, "method": "subscribe", "params": {"topics": "all"}}', -32602),
    ],
)
async def test_malformed_messages_get_json_rpc_errors_and_the_server_keeps_serving(
    instance: RunningInstance, client: InstanceClient, payload: str | bytes, code: int
) -> None:
    answer = await raw_exchange(instance, payload)
    assert isinstance(answer, dict)
    assert answer["error"]["code"] == code
    assert (await client.call("get_instance_info"))["name"] == "Test Instance"


async def test_a_batch_is_answered_request_by_request(instance: RunningInstance) -> None:
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "get_instance_info"},
        {"jsonrpc": "2.0", "method": "get_instance_info"},  # a notification: no answer owed
        {"jsonrpc": "2.0", "id": 2, "method": "nope"},
    ]
    answers = await raw_exchange(instance, json.dumps(batch))
    assert isinstance(answers, list)
    assert [a["id"] for a in answers] == [1, 2]
    assert "result" in answers[0]
    assert answers[1]["error"]["code"] == -32601


async def test_subscribers_receive_published_events_for_their_topics(
    instance: RunningInstance, client: InstanceClient
) -> None:
    await client.subscribe(["issue"])
    instance.ctx.events.publish("process", id="p1")
    instance.ctx.events.publish("issue", id="ISSUE_1", action="created")
    event = await asyncio.wait_for(client.next_event(), 10)
    assert event == {"topic": "issue", "id": "ISSUE_1", "action": "created"}


async def test_unsubscribe_stops_events(instance: RunningInstance, client: InstanceClient) -> None:
    await client.subscribe(["*"])
    await client.call("unsubscribe")
    instance.ctx.events.publish("issue", id="ISSUE_1")
    await client.subscribe(["instance"])
    instance.ctx.events.publish("instance", state="marker")
    # The first event after re-subscribing is the marker: nothing published while unsubscribed arrived.
    assert (await asyncio.wait_for(client.next_event(), 10))["state"] == "marker"


@pytest.mark.parametrize(
    ("on_path", "expected"),
    [(["python3"], "python3"), (["python"], "python"), (["python", "python3"], "python3"), ([], None)],
)
async def test_instance_info_names_the_python_its_processes_find_on_path(
    client: InstanceClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, on_path: list[str], expected: str | None
) -> None:
    """The example the process form shows must run: `python3` where only that exists, not a fixed name."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for name in on_path:
        (folder / name).symlink_to(sys.executable)
    monkeypatch.setenv("PATH", str(folder))
    assert (await client.call("get_instance_info"))["python"] == expected
