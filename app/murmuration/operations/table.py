"""The operation table: each operation declared once — name, JSON Schema, handler.

The WebSocket JSON-RPC methods, the MCP tools and the CLI sub-commands that touch
data are all generated from this table, so they cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from murmuration.contract import CONFLICT, DAMAGED, DISK_FULL, INVALID_PARAMS, NOT_FOUND, SERVER_ERROR
from murmuration.core.errors import Conflict, Damaged, DiskFull, Invalid, NotFound

if TYPE_CHECKING:
    from jsonschema import ValidationError

    from murmuration.operations.context import InstanceContext

Handler = Callable[["InstanceContext", dict[str, Any]], Awaitable[dict[str, Any]]]

SURROGATE = re.compile("[\ud800-\udfff]")


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

    @cached_property
    def _validator(self) -> Any:
        # Imported on first use: jsonschema costs more start-up time than the whole server otherwise.
        from jsonschema import Draft202012Validator

        return Draft202012Validator(self.params)

    async def run(self, ctx: InstanceContext, params: dict[str, Any]) -> dict[str, Any]:
        """Validate `params`, run the handler, and turn core's refusals into OperationErrors."""
        self.check(params)
        try:
            return await self.handler(ctx, params)
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

    def check(self, params: dict[str, Any]) -> None:
        """Raise an OperationError naming the first bad field when `params` break the schema."""
        from jsonschema.exceptions import best_match

        error = best_match(self._validator.iter_errors(params))
        if error is not None:
            name = _field_of(error)
            reason = _reason(error)
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


def params_schema(properties: dict[str, Any], required: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    """An object schema that lists its fields and refuses unknown ones."""
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    schema.update(extra)
    return schema


class OperationTable:
    """All operations by name, in the order they were declared."""

    def __init__(self) -> None:
        self._operations: dict[str, Operation] = {}

    def add(self, operation: Operation) -> None:
        if operation.name in self._operations:
            raise ValueError(f"operation {operation.name!r} is declared twice")
        self._operations[operation.name] = operation

    def operation(
        self, name: str, description: str, params: dict[str, Any], *, for_agents: bool = True
    ) -> Callable[[Handler], Handler]:
        """Decorator that declares `handler` as the operation `name`."""

        def declare(handler: Handler) -> Handler:
            self.add(Operation(name, description, params, handler, for_agents))
            return handler

        return declare

    def get(self, name: str) -> Operation | None:
        return self._operations.get(name)

    def __iter__(self) -> Iterator[Operation]:
        return iter(self._operations.values())

    def __len__(self) -> int:
        return len(self._operations)
