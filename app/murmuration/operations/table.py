"""The operation table: each operation declared once — name, JSON Schema, handler.

The WebSocket JSON-RPC methods, the MCP tools and the CLI sub-commands that touch
data are all generated from this table, so they cannot drift apart.
"""

from __future__ import annotations

import os
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from difflib import get_close_matches
from functools import cached_property
from typing import TYPE_CHECKING, Any

from murmuration.contract import CONFLICT, DAMAGED, DISK_FULL, INVALID_PARAMS, NOT_FOUND, SERVER_ERROR
from murmuration.core.errors import Conflict, Damaged, DiskFull, Invalid, NotFound

if TYPE_CHECKING:
    from jsonschema import ValidationError

    from murmuration.operations.context import InstanceContext

Handler = Callable[["InstanceContext", dict[str, Any]], Awaitable[dict[str, Any]]]

SURROGATE = re.compile("[\ud800-\udfff]")
CAPITAL = re.compile(r"(?<!^)([A-Z])")
# Set by the test suite: every result is checked against its operation's result schema, so a handler that drifts
# from what it promises MCP clients (their outputSchema) fails the tests that call it.
CHECK_RESULTS_ENV = "MURMURATION_CHECK_RESULTS"


@dataclass(frozen=True)
class Hints:
    """What calling an operation does to the instance, as MCP tool annotations tell a client.

    destructive: a call may lose something another call cannot bring back (text overwritten, a process ended).
    open_world: it reaches past the instance's own data (it runs a command).
    """

    read_only: bool
    destructive: bool
    idempotent: bool
    open_world: bool = False


READS = Hints(read_only=True, destructive=False, idempotent=True)
ADDS = Hints(read_only=False, destructive=False, idempotent=False)  # each call adds one more
SETS = Hints(read_only=False, destructive=False, idempotent=True)  # the same call again changes nothing more
REPLACES = Hints(read_only=False, destructive=True, idempotent=True)  # overwrites or removes, once


class OperationError(Exception):
    """A failure the caller can act on: a sentence, a JSON-RPC code and, where it helps, the field."""

    def __init__(self, message: str, code: int = SERVER_ERROR, data: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.data = data


@dataclass(frozen=True)
class Operation:
    """One thing a client can ask an instance to do."""

    name: str
    description: str
    params: dict[str, Any]
    handler: Handler = field(compare=False)
    # False for operations a person's tools use (sign-in codes, shutdown) but an agent should not.
    for_agents: bool = True
    # The JSON Schema of a successful result (published as the tool's outputSchema), and what a call does.
    result: dict[str, Any] | None = field(default=None, compare=False)
    hints: Hints | None = None
    # The original's spellings that camelCase → snake_case does not turn into today's name (retryDelay →
    # retry_delay_ms): old spelling → name. Accepted like the others, never advertised.
    aliases: dict[str, str] = field(default_factory=dict, compare=False)
    # The agent tool that does this operation's job now (get_issue → list_issues with ids). An operation merged
    # into another is no MCP tool of its own in tools/list, but still answers an MCP call by its name, as it
    # answers JSON-RPC: one tool per job keeps tools/list small, and prompts written for either keep working.
    merged_into: str | None = None

    @property
    def cancellable(self) -> bool:
        """Whether a cancel may stop a call midway: only one that changes nothing is never left half done (a
        cancelled stop_process would not kill after its timeout; start_process could lose its record)."""
        return self.hints is not None and self.hints.read_only

    @cached_property
    def _validator(self) -> Any:
        # Imported on first use: jsonschema costs more start-up time than the whole server otherwise.
        from jsonschema import Draft202012Validator

        return Draft202012Validator(self.params)

    @cached_property
    def _result_validator(self) -> Any:
        from jsonschema import Draft202012Validator

        return Draft202012Validator(self.result or {"type": "object"})

    async def run(self, ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        """Validate `params`, run the handler, and turn core's refusals into OperationErrors."""
        params = self.snake_cased(params)
        self.check(params)
        try:
            result = await self.handler(ctx, params)
        except NotFound as exc:
            raise OperationError(exc.message, NOT_FOUND, {"field": exc.field}) from None
        except Invalid as exc:
            raise OperationError(exc.message, INVALID_PARAMS, {"field": exc.field}) from None
        except Conflict as exc:
            data = {**({"field": exc.field} if exc.field else {}), **exc.details}
            raise OperationError(exc.message, CONFLICT, data or None) from None
        except OperationError:
            raise  # a refusal the handler worded itself
        except Exception as exc:
            # A read can meet a corrupt page and any write a full disk: the store says what that means.
            failure = ctx.knowledge.store.failure(exc)
            if isinstance(failure, Damaged):
                raise OperationError(Damaged.sentence(ctx.info.id), DAMAGED, {"reason": failure.reason}) from None
            if isinstance(failure, DiskFull):
                raise OperationError(failure.message, DISK_FULL) from None
            raise
        if os.environ.get(CHECK_RESULTS_ENV) == "1":
            self.check_result(result)
        return result

    def check_result(self, result: dict[str, Any]) -> None:
        """Raise AssertionError when `result` breaks this operation's result schema."""
        from jsonschema.exceptions import best_match

        error = best_match(self._result_validator.iter_errors(result))
        if error is not None:
            where = ".".join(str(p) for p in error.absolute_path) or "result"
            raise AssertionError(f"{self.name} broke its result schema at {where}: {error.message[:300]}")

    def snake_cased(self, params: dict[str, Any]) -> dict[str, Any]:
        """`params` with the original Murmuration's camelCase spellings (targetDate) under their snake_case names
        (target_date): still accepted, no longer advertised."""
        known = self.params.get("properties", {})
        if not isinstance(params, dict) or all(key in known for key in params):
            return params
        renamed: dict[str, Any] = {}
        for key, value in params.items():
            name = key if key in known else self.aliases.get(key) or CAPITAL.sub(r"_\1", str(key)).lower()
            if name != key and name in known:
                if name in params:
                    raise OperationError(
                        f"Give {name!r} once: {key!r} is its old spelling.", INVALID_PARAMS, {"field": key}
                    )
                renamed[name] = value
            else:
                renamed[key] = value
        return renamed

    def check(self, params: dict[str, Any]) -> None:
        """Raise an OperationError naming the first bad field when `params` break the schema."""
        from jsonschema.exceptions import best_match

        error = best_match(self._validator.iter_errors(params))
        if error is not None:
            name = _field_of(error)
            reason = _reason(error)
            if error.validator == "additionalProperties":
                close = get_close_matches(name, list(error.schema.get("properties", {})), n=1, cutoff=0.7)
                if close:
                    reason += f"; did you mean {close[0]!r}"
            raise OperationError(
                f"Invalid parameter {name!r} for {self.name}: {reason}.",
                INVALID_PARAMS,
                {"field": name, "reason": reason},
            )


def _lone_surrogate(value: Any, path: str = "") -> str | None:
    """The path of the first string (or key) holding a lone surrogate, which JSON allows and UTF-8 cannot hold."""
    if isinstance(value, str):
        return (path or "params") if SURROGATE.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            found = inner if SURROGATE.search(str(key)) else _lone_surrogate(item, inner)
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _lone_surrogate(item, f"{path}.{index}" if path else str(index))
            if found is not None:
                return found
    return None


def _reason(error: ValidationError) -> str:
    """What is wrong, naming the limit, without echoing a value that may be megabytes long."""
    limit: Any = error.validator_value
    value: Any = error.instance
    sized = {
        "maxLength": ("at most", "characters"),
        "minLength": ("at least", "characters"),
        "maxItems": ("at most", "items"),
        "minItems": ("at least", "items"),
        "maxProperties": ("at most", "entries"),
    }
    if error.validator in sized and isinstance(value, (str, list, dict)):
        bound, unit = sized[str(error.validator)]
        return f"it must have {bound} {limit:,} {unit} (it has {len(value):,})"
    message = error.message
    return message if len(message) <= 200 else message[:200] + "…"


def _field_of(error: ValidationError) -> str:
    """The dotted path of the field an error is about, including a missing or unexpected key."""
    path = [str(p) for p in error.absolute_path]
    instance = error.instance
    rule: Any = error.validator_value
    schema: Any = error.schema
    if isinstance(instance, dict):
        if error.validator == "required":
            path += [k for k in rule if k not in instance][:1]
        elif error.validator == "additionalProperties":
            allowed = set(schema.get("properties", {}))
            path += sorted(k for k in instance if k not in allowed)[:1]
        elif error.validator == "dependentRequired":
            path += [k for needs in rule.values() for k in needs if k not in instance][:1]
    return ".".join(path) or "params"


def items_by_id(ids: list[str], get: Callable[[str], dict[str, Any]], field: str = "ids") -> list[dict[str, Any]]:
    """The items `ids` name, in their order, once each; NotFound naming `field` when one does not exist."""
    items = []
    for item_id in dict.fromkeys(ids):
        try:
            items.append(get(item_id))
        except NotFound as exc:
            raise NotFound(exc.message, field) from None
    return items


def alone(params: dict[str, Any], key: str, *allowed: str) -> None:
    """Refuse a parameter that `key` makes meaningless (a filter beside the ids that name the items, a change
    beside delete), rather than ignore it in silence."""
    extra = sorted(name for name in params if name not in (key, *allowed))
    if extra:
        raise OperationError(
            f"Invalid parameter {extra[0]!r}: it means nothing beside {key!r}; leave out one of the two.",
            INVALID_PARAMS,
            {"field": extra[0]},
        )


def params_schema(properties: dict[str, Any], required: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    """An object schema that lists its fields and refuses unknown ones."""
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    schema.update(extra)
    return schema


# Marks a parameter tools/list leaves out: one an agent does its job without (the original's form of a call, a
# person's field, a dashboard's filter a listed parameter does better). The instance takes it like any other;
# JSON Schema ignores the keyword.
UNLISTED = "x-unlisted"
STRING = {"type": "string"}
INTEGER = {"type": "integer"}
BOOLEAN = {"type": "boolean"}
OBJECTS = {"type": "array", "items": {"type": "object"}}


def result_schema(properties: dict[str, Any], *optional: str) -> dict[str, Any]:
    """The schema of a result: these fields (all present but `optional`) and the web_url every result carries.

    Further fields are allowed, so a new field is no break for clients that validate.
    """
    fields = {**properties, "web_url": {"type": "string"}}
    return {"type": "object", "properties": fields, "required": [k for k in fields if k not in optional]}


class OperationTable:
    """All operations by name, in the order they were declared."""

    def __init__(self) -> None:
        self._operations: dict[str, Operation] = {}

    def add(self, operation: Operation) -> None:
        if operation.name in self._operations:
            raise ValueError(f"operation {operation.name!r} is declared twice")
        self._operations[operation.name] = operation

    def operation(
        self,
        name: str,
        description: str,
        params: dict[str, Any],
        *,
        for_agents: bool = True,
        result: dict[str, Any] | None = None,
        hints: Hints | None = None,
        aliases: dict[str, str] | None = None,
        merged_into: str | None = None,
    ) -> Callable[[Handler], Handler]:
        """Decorator that declares `handler` as the operation `name`."""

        def declare(handler: Handler) -> Handler:
            self.add(
                Operation(name, description, params, handler, for_agents, result, hints, aliases or {}, merged_into)
            )
            return handler

        return declare

    def get(self, name: str) -> Operation | None:
        return self._operations.get(name)

    def __iter__(self) -> Iterator[Operation]:
        return iter(self._operations.values())

    def __len__(self) -> int:
        return len(self._operations)
