"""JSON-RPC 2.0 over one WebSocket connection: parse, validate, dispatch, answer.

Nothing a client sends can crash the connection: every failure becomes an error
response with a code, a sentence a person can act on and, where it helps, the field.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from murmuration.contract import INTERNAL_ERROR, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, PARSE_ERROR
from murmuration.core.agents import Session
from murmuration.core.events import Subscription
from murmuration.operations import InstanceContext, OperationError, OperationTable
from murmuration.server.json_steps import dump, dump_in_steps

log = logging.getLogger("murmuration.rpc")

MAX_BATCH = 100

Message = dict[str, Any]


def error_response(request_id: Any, code: int, message: str, data: Any = None) -> Message:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": request_id, "error": error}


class RpcSession:
    """The protocol state of one connection: who is on it, its subscription, and how it answers messages."""

    def __init__(
        self,
        table: OperationTable,
        ctx: InstanceContext,
        on_subscribe: Callable[[Subscription], None] = lambda s: None,
        agent: Session | None = None,
    ) -> None:
        self.table = table
        self.ctx = ctx
        self.agent = agent
        self.subscription: Subscription | None = None
        self._on_subscribe = on_subscribe

    async def handle(self, raw: str | bytes) -> str | None:
        """The JSON text to send back for one message, or None when nothing is owed (notifications)."""
        try:
            message = json.loads(raw)
        except (ValueError, RecursionError):
            return dump(error_response(None, PARSE_ERROR, "Parse error: the message is not valid JSON."))
        if isinstance(message, list):
            if not message:
                return dump(error_response(None, INVALID_REQUEST, "Invalid request: an empty batch."))
            if len(message) > MAX_BATCH:
                text = f"Invalid request: a batch may hold at most {MAX_BATCH} requests."
                return dump(error_response(None, INVALID_REQUEST, text))
            answers = [a for a in [await self._answer(m) for m in message] if a is not None]
            return "[" + ",".join(answers) + "]" if answers else None
        return await self._answer(message)

    async def _answer(self, message: Any) -> str | None:
        """The JSON text of one request's answer; None for a notification."""
        if not isinstance(message, dict):
            return dump(error_response(None, INVALID_REQUEST, "Invalid request: a request must be a JSON object."))
        answer = await self._check_and_call(message)
        if answer is None:
            return None
        try:
            # In steps: a large result (10,000 log lines) must not hold up everyone else's answers.
            return await dump_in_steps(answer)
        except (TypeError, ValueError, RecursionError):  # a result that cannot be sent is a bug, not a lost answer
            log.exception("operation %s failed: its result cannot be sent as JSON", str(message.get("method"))[:100])
            return dump(
                error_response(answer.get("id"), INTERNAL_ERROR, "Internal error: the server log has the details.")
            )

    async def _check_and_call(self, message: Message) -> Message | None:
        """The answer to a request (an error if it is not a valid one); None for a valid notification."""
        request_id = message.get("id")
        if not isinstance(request_id, (str, int, type(None))) or isinstance(request_id, bool):
            return error_response(None, INVALID_REQUEST, "Invalid request: 'id' must be a string, a number or null.")
        if message.get("jsonrpc") != "2.0":
            return error_response(request_id, INVALID_REQUEST, "Invalid request: 'jsonrpc' must be \"2.0\".")
        method = message.get("method")
        if not isinstance(method, str):
            return error_response(request_id, INVALID_REQUEST, "Invalid request: 'method' must be a string.")
        params = message.get("params", {})
        if not isinstance(params, dict):
            answer = error_response(
                request_id, INVALID_PARAMS, "Invalid params: 'params' must be an object.", {"field": "params"}
            )
        else:
            answer = await self._call(request_id, method, params)
        return None if "id" not in message else answer

    async def _call(self, request_id: Any, method: str, params: dict[str, Any]) -> Message:
        try:
            if method in ("subscribe", "unsubscribe"):
                result = self._subscribe(params if method == "subscribe" else {"topics": []})
            else:
                operation = self.table.get(method)
                if operation is None:
                    return error_response(
                        request_id, METHOD_NOT_FOUND, f"Method not found: {method[:100]!r} is not an operation."
                    )
                ctx = self.ctx
                if self.agent is not None:
                    self.ctx.agents.touch(self.agent, operation.name)
                    ctx = ctx.acting_as(self.agent.caller)  # read per call: `identify` renames the session
                result = await operation.run(ctx, params)
        except OperationError as exc:
            return error_response(request_id, exc.code, exc.message, exc.data)
        except Exception:
            log.exception("operation %s failed", method[:100])
            return error_response(request_id, INTERNAL_ERROR, "Internal error: the server log has the details.")
        return {"jsonrpc": "2.0", "id": request_id, "result": result}

    def _subscribe(self, params: dict[str, Any]) -> dict[str, Any]:
        topics = params.get("topics")
        if not isinstance(topics, list) or not all(isinstance(t, str) and len(t) <= 100 for t in topics):
            raise OperationError(
                "Invalid params: 'topics' must be a list of topic names (or [\"*\"] for all).",
                INVALID_PARAMS,
                {"field": "topics"},
            )
        if self.subscription is not None:
            self.subscription.close()
            self.subscription = None
        if topics:
            self.subscription = self.ctx.events.subscribe(topics)
            self._on_subscribe(self.subscription)
        return {"topics": sorted(set(topics))}

    def close(self) -> None:
        if self.subscription is not None:
            self.subscription.close()
            self.subscription = None
