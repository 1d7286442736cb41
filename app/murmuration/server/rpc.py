"""JSON-RPC 2.0 over one WebSocket connection: parse, validate, dispatch, answer.

Nothing a client sends can crash the connection: every failure becomes an error
response with a code, a sentence a person can act on and, where it helps, the field.

A request can be cancelled by its id (the `cancel` notification): an operation that only reads stops at once and
answers REQUEST_CANCELLED; one that changes state runs to its end and answers as usual, so nothing is left half done.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from murmuration.contract import (
    CANCEL,
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    NOT_FOUND,
    PARSE_ERROR,
    REQUEST_CANCELLED,
)
from murmuration.core.agents import Session
from murmuration.core.events import Subscription
from murmuration.operations import InstanceContext, Operation, OperationError, OperationTable
from murmuration.server.json_steps import dump, dump_in_steps

log = logging.getLogger("murmuration.rpc")

MAX_BATCH = 100
MAX_CANCEL = 1000  # bytes: no cancel is longer, so a longer message is not parsed twice to find out

Message = dict[str, Any]

# The task of each running operation that changes state, held until done: one whose connection closed goes on with
# nobody awaiting it, and the event loop keeps only weak references to tasks.
_finishing: set[asyncio.Task[dict[str, Any]]] = set()


@dataclass
class Running:
    """One operation a request started, and whether a cancel stopped it."""

    task: asyncio.Task[dict[str, Any]]
    cancellable: bool
    cancelled: bool = False


def is_cancel(raw: str | bytes) -> bool:
    """Whether `raw` is one cancel message: the server handles it at once, outside the connection's limit on
    requests in flight, so it reaches a wait even when every slot holds one."""
    # Most messages are not parsed twice: only a short one naming the method (a cancel spelled with escapes is still
    # answered, within the limit).
    if len(raw) > MAX_CANCEL:
        return False
    text = raw if isinstance(raw, str) else raw.decode(errors="replace")
    if CANCEL not in text:
        return False
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):
        return False
    return isinstance(message, dict) and message.get("method") == CANCEL


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
        self._running: dict[str | int, list[Running]] = {}  # by request id (a careless client may reuse one)

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
            elif method == CANCEL:
                result = self._cancel(params)
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
                result = await self._run(request_id, operation, ctx, params)
        except OperationError as exc:
            return error_response(request_id, exc.code, exc.message, exc.data)
        except Exception:
            log.exception("operation %s failed", method[:100])
            return error_response(request_id, INTERNAL_ERROR, "Internal error: the server log has the details.")
        return {"jsonrpc": "2.0", "id": request_id, "result": result}

    async def _run(self, request_id: Any, operation: Operation, ctx: InstanceContext, params: Message) -> Message:
        """Run `operation` where a cancel of `request_id` can reach it: one that only reads in this very task (a
        cancel stops it where it waits), one that changes state in a task of its own, shielded from cancels and from
        its connection closing alike, so that it always ends whole."""
        current = asyncio.current_task()
        assert current is not None
        task = current if operation.cancellable else asyncio.create_task(operation.run(ctx, params))
        running = Running(task, operation.cancellable)
        runs = self._running.setdefault(request_id, []) if request_id is not None else []
        runs.append(running)
        try:
            if not running.cancellable:
                _finishing.add(task)
                task.add_done_callback(_finished)
                return await asyncio.shield(task)
            try:
                return await operation.run(ctx, params)
            except asyncio.CancelledError:
                # Only a cancel of this request is answered; the connection closing too cancels on regardless.
                if not running.cancelled or current.uncancel() > 0:
                    raise
                log.info("request %.100r (%s) cancelled by its caller", request_id, operation.name)
                raise OperationError(
                    f"Cancelled: {operation.name} stopped before it ended, as its caller asked.", REQUEST_CANCELLED
                ) from None
        except asyncio.CancelledError:
            if not running.cancellable:
                task.add_done_callback(_log_failure)  # it goes on alone: nobody else will see it fail
            raise  # the connection is closing: nobody is owed an answer
        finally:
            runs.remove(running)
            if not runs:
                self._running.pop(request_id, None)

    def _cancel(self, params: Message) -> Message:
        """Stop the cancellable operations of the request `params['id']` names on this connection."""
        request_id = params.get("id")
        if not isinstance(request_id, (str, int)) or isinstance(request_id, bool) or set(params) != {"id"}:
            field = "id" if "id" not in params or set(params) == {"id"} else sorted(set(params) - {"id"})[0][:100]
            raise OperationError(
                "Invalid params: cancel takes only 'id', the id (a string or an integer) of a request sent earlier "
                "on this connection.",
                INVALID_PARAMS,
                {"field": field},
            )
        runs = self._running.get(request_id)
        if not runs:
            shown = repr(request_id) if len(repr(request_id)) <= 40 else repr(request_id)[:40] + "…"
            raise OperationError(
                f"No request with id {shown} is running on this connection; it has ended already "
                "(or was sent on another connection).",
                NOT_FOUND,
                {"field": "id"},
            )
        for running in runs:
            if running.cancellable and not running.cancelled:
                running.cancelled = True
                running.task.cancel()  # the task answering the request (or the batch holding it)
        # False: the operation changes state, so it runs to its end and its answer follows as usual.
        return {"id": request_id, "cancelled": any(r.cancelled for r in runs)}

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
        """Let go of what the connection held; its state-changing operations still run to their end."""
        if self.subscription is not None:
            self.subscription.close()
            self.subscription = None


def _finished(task: asyncio.Task[dict[str, Any]]) -> None:
    _finishing.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved here, so that one whose caller left is not reported as never retrieved


def _log_failure(task: asyncio.Task[dict[str, Any]]) -> None:
    failure = None if task.cancelled() else task.exception()
    if failure is not None and not isinstance(failure, OperationError):
        log.error("an operation whose connection closed failed", exc_info=failure)
