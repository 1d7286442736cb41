"""server/rpc.py's RpcSession on its own, sans I/O: JSON text in, JSON text out, no socket and no server.

A small table of operations stands in for the instance's, so each answer depends on the protocol code only;
tests/server/test_rpc.py checks the same protocol over a real socket.
"""

from __future__ import annotations

import asyncio
import json
import logging
from types import SimpleNamespace
from typing import Any

import pytest

from murmuration.contract import (
    CONFLICT,
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    NOT_FOUND,
    PARSE_ERROR,
)
from murmuration.core.errors import Conflict, NotFound
from murmuration.core.events import EventBus, Subscription
from murmuration.operations.table import OperationError, OperationTable, params_schema
from murmuration.server.rpc import MAX_BATCH, RpcSession

calls: list[dict[str, Any]] = []


def table() -> OperationTable:
    ops = OperationTable()

    @ops.operation("echo", "Give the params back.", params_schema({"text": {"type": "string", "maxLength": 10}}))
    async def echo(ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
        calls.append(params)
        return {"echo": params.get("text")}

    @ops.operation("missing", "Always not found.", params_schema({}))
    async def missing(ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
        raise NotFound("No such thing exists.", "thing_id")

    @ops.operation("clash", "Always a conflict.", params_schema({}))
    async def clash(ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
        raise Conflict("It is already there.")

    @ops.operation("refuse", "Always refused.", params_schema({}))
    async def refuse(ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
        raise OperationError("Not now; retry later.", -32042, {"retry_after": 3})

    @ops.operation("crash", "A bug.", params_schema({}))
    async def crash(ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("secret internals")

    @ops.operation("unsendable", "A result JSON cannot hold.", params_schema({}))
    async def unsendable(ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
        return {"value": object()}

    return ops


@pytest.fixture
def bus() -> EventBus:
    return EventBus()


@pytest.fixture
def subscribed() -> list[Subscription]:
    return []


@pytest.fixture
def session(bus: EventBus, subscribed: list[Subscription]) -> RpcSession:
    calls.clear()
    # The handlers here never look at the context; the session only uses its event bus.
    return RpcSession(table(), SimpleNamespace(events=bus), subscribed.append)  # type: ignore[arg-type]


async def exchange(session: RpcSession, message: Any) -> Any:
    raw = message if isinstance(message, (str, bytes)) else json.dumps(message)
    answer = await session.handle(raw)
    return None if answer is None else json.loads(answer)


def request(method: str, params: Any = None, request_id: Any = 1) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    return message


async def test_a_call_is_answered_with_its_own_id_in_compact_json(session: RpcSession) -> None:
    raw = await session.handle(json.dumps(request("echo", {"text": "hi"}, "abc")))
    assert raw == '{"jsonrpc":"2.0","id":"abc","result":{"echo":"hi"}}'


async def test_params_may_be_left_out(session: RpcSession) -> None:
    assert (await exchange(session, request("echo")))["result"] == {"echo": None}


async def test_a_notification_runs_but_gets_no_answer(session: RpcSession) -> None:
    message = request("echo", {"text": "quiet"})
    del message["id"]
    assert await exchange(session, message) is None
    assert calls == [{"text": "quiet"}]


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{not json", PARSE_ERROR),
        (b"\xff\xfe", PARSE_ERROR),
        ("[" * 50_000 + "]" * 50_000, PARSE_ERROR),
        ("[]", INVALID_REQUEST),
        ("7", INVALID_REQUEST),
        ('{"jsonrpc": "1.0", "id": 1, "method": "echo"}', INVALID_REQUEST),
        ('{"id": 1, "method": "echo"}', INVALID_REQUEST),
        ('{"jsonrpc": "2.0", "id": 1, "method": ["echo"]}', INVALID_REQUEST),
        ('{"jsonrpc": "2.0", "id": true, "method": "echo"}', INVALID_REQUEST),
        ('{"jsonrpc": "2.0", "id": 1.5e400, "method": "echo"}', INVALID_REQUEST),
        ('{"jsonrpc": "2.0", "id": 1, "method": "echo", "params": [1]}', INVALID_PARAMS),
        ('{"jsonrpc": "2.0", "id": 1, "method": "drop_tables"}', METHOD_NOT_FOUND),
    ],
)
async def test_a_broken_message_gets_the_error_its_fault_deserves(session: RpcSession, raw: str, code: int) -> None:
    answer = await exchange(session, raw)
    assert answer["error"]["code"] == code
    assert answer["error"]["message"].endswith(".")


async def test_an_unknown_method_name_is_quoted_short(session: RpcSession) -> None:
    answer = await exchange(session, request("x" * 10_000))
    assert len(answer["error"]["message"]) < 200


async def test_schema_breaks_name_the_field(session: RpcSession) -> None:
    answer = await exchange(session, request("echo", {"text": "far too long here"}))
    assert (answer["error"]["code"], answer["error"]["data"]["field"]) == (INVALID_PARAMS, "text")
    answer = await exchange(session, request("echo", {"colour": "red"}))
    assert answer["error"]["data"]["field"] == "colour"
    assert calls == []  # refused before the handler ran


@pytest.mark.parametrize(
    ("method", "code", "data"),
    [
        ("missing", NOT_FOUND, {"field": "thing_id"}),
        ("clash", CONFLICT, None),
        ("refuse", -32042, {"retry_after": 3}),
    ],
)
async def test_refusals_keep_their_code_sentence_and_data(
    session: RpcSession, method: str, code: int, data: Any
) -> None:
    error = (await exchange(session, request(method)))["error"]
    assert (error["code"], error.get("data")) == (code, data)
    assert error["message"].endswith(".")


@pytest.mark.parametrize("method", ["crash", "unsendable"])
async def test_a_bug_is_an_internal_error_that_tells_nothing_but_where_to_look(
    session: RpcSession, method: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, "murmuration.rpc"):
        error = (await exchange(session, request(method)))["error"]
    assert error == {"code": INTERNAL_ERROR, "message": "Internal error: the server log has the details."}
    assert f"operation {method} failed" in caplog.text


async def test_a_batch_is_answered_in_order_without_its_notifications(session: RpcSession) -> None:
    quiet = request("echo", {"text": "n"})
    del quiet["id"]
    answers = await exchange(session, [request("echo", {"text": "a"}, 1), quiet, request("missing", None, 2), 5])
    assert [a.get("id") for a in answers] == [1, 2, None]
    assert answers[0]["result"] == {"echo": "a"}
    assert answers[1]["error"]["code"] == NOT_FOUND
    assert answers[2]["error"]["code"] == INVALID_REQUEST
    assert await exchange(session, [quiet, quiet]) is None


async def test_a_batch_has_a_size_limit(session: RpcSession) -> None:
    answer = await exchange(session, [request("echo", None, n) for n in range(MAX_BATCH + 1)])
    assert answer["error"]["code"] == INVALID_REQUEST
    assert calls == []


async def test_subscribe_hands_over_a_subscription_that_receives_events(
    session: RpcSession, bus: EventBus, subscribed: list[Subscription]
) -> None:
    answer = await exchange(session, request("subscribe", {"topics": ["issue", "issue", "queue"]}))
    assert answer["result"] == {"topics": ["issue", "queue"]}
    (subscription,) = subscribed
    bus.publish("process", id="p")
    bus.publish("issue", id="ISSUE_1")
    assert await asyncio.wait_for(subscription.next(), 5) == {"topic": "issue", "id": "ISSUE_1"}


async def test_subscribing_again_replaces_and_unsubscribe_ends(
    session: RpcSession, bus: EventBus, subscribed: list[Subscription]
) -> None:
    await exchange(session, request("subscribe", {"topics": ["issue"]}))
    await exchange(session, request("subscribe", {"topics": ["queue"]}))
    first, second = subscribed
    bus.publish("issue", id="x")
    assert not first.wants("queue")
    assert second.wants("queue")
    assert session.subscription is second
    assert (await exchange(session, request("unsubscribe")))["result"] == {"topics": []}
    assert session.subscription is None
    bus.publish("queue", action="config")
    await exchange(session, request("subscribe", {"topics": ["queue"]}))
    session.close()
    assert session.subscription is None


@pytest.mark.parametrize("topics", ["all", [1], ["x" * 101], None])
async def test_subscribe_refuses_anything_but_a_list_of_names(session: RpcSession, topics: Any) -> None:
    answer = await exchange(session, request("subscribe", {"topics": topics}))
    assert (answer["error"]["code"], answer["error"]["data"]) == (INVALID_PARAMS, {"field": "topics"})
