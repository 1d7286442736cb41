"""The MCP tools, generated from the operation table: the same names and schemas, as much of them as a model uses.

tools/list is read by a model at the start of every session, so it carries what tells a model how to call a tool
right — types, enums, ranges, defaults, required fields, descriptions — and leaves out what only guards the instance:
size caps (maxLength, maxItems, patterns…) and the refusal of unknown fields. The instance still checks the whole
schema and names the field and its limit when a call breaks it. A published schema therefore accepts everything the
instance does, and a little more it refuses with a sentence; it never refuses a call the instance would take.

Output schemas are the result schemas of the table one level deep: each top-level field with its type. web_url,
which every result has, is said once in the server's instructions instead.
"""

from __future__ import annotations

from typing import Any

import mcp_types as types

from murmuration.mcp_bridge.results import EXCERPTED, FULL
from murmuration.operations import Operation, OperationTable


def agent_operations(table: OperationTable) -> list[Operation]:
    """The operations an agent may use, in table order (sign-in codes, shutdown and the like are left out)."""
    return [operation for operation in table if operation.for_agents]


def tool_for(operation: Operation) -> types.Tool:
    """The MCP tool of one operation: its name, its parameters' and its result's schemas as they are, what it does
    and what calling it does to the instance."""
    hints = operation.hints
    return types.Tool(
        name=operation.name,
        description=operation.description,
        input_schema=input_schema(operation),
        output_schema=output_schema(operation.result),
        annotations=None
        if hints is None
        else types.ToolAnnotations(
            read_only_hint=hints.read_only,
            destructive_hint=hints.destructive,
            idempotent_hint=hints.idempotent,
            open_world_hint=hints.open_world,
        ),
    )


# Keywords that only guard the instance against oversized or malformed input; the instance enforces them.
GUARDS = frozenset(
    {"maxLength", "minLength", "maxItems", "minItems", "maxProperties", "minProperties", "propertyNames", "pattern"}
)


def input_schema(operation: Operation) -> dict[str, Any]:
    """The operation's parameters as a model reads them, plus the bridge's own `full` where a list comes back as
    excerpts."""
    schema: dict[str, Any] = published(operation.params)
    if operation.name in EXCERPTED:
        schema["properties"] = {**schema["properties"], "full": FULL}
    return schema


def published(schema: Any) -> Any:
    """`schema` without its guards: no size caps, no `additionalProperties: false`, no description of an array's
    items (the array's own says what they are)."""
    if isinstance(schema, list):
        return [published(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    kept: dict[str, Any] = {}
    for key, value in schema.items():
        if key in GUARDS or (key == "additionalProperties" and value is False):
            continue
        if key == "properties":
            kept[key] = {name: published(field) for name, field in value.items()}
        elif key == "items" and isinstance(value, dict):
            kept[key] = {k: v for k, v in published(value).items() if k != "description"}
        else:
            kept[key] = published(value)
    return kept


def output_schema(result: dict[str, Any] | None) -> dict[str, Any]:
    """A result schema one level deep: its fields and their types, less the web_url every result carries."""
    fields = (result or {}).get("properties", {})
    shallow = {name: {"type": field["type"]} if "type" in field else {} for name, field in fields.items()}
    shallow.pop("web_url", None)
    return {"type": "object", "properties": shallow}


def agent_tools(table: OperationTable) -> list[types.Tool]:
    """Every tool the bridge offers."""
    return [tool_for(operation) for operation in agent_operations(table)]
