"""The MCP tools, generated from the operation table: one per job, with as much of each schema as a model uses.

tools/list is read by a model at the start of every session, so it lists only the operations not merged into
another (`merged_into`: their jobs are parameters of a listed tool, and they still answer by name), and carries
what tells a model how to call a tool right — types, enums, required fields, descriptions that give ranges,
defaults and examples in a few words — and leaves out what only guards the instance: size caps (maxLength,
maxItems, patterns…), bounds, the refusal of unknown fields and parameters marked UNLISTED. The instance still
checks the whole schema and names the field and its limit when a call breaks it. A published schema therefore
accepts everything the instance does, and a little more it refuses with a sentence; it never refuses a call the
instance would take.

Output schemas name the fields every result of the operation has (its result schema's required ones). web_url,
which every result has, is said once in the server's instructions instead.
"""

from __future__ import annotations

from typing import Any

import mcp_types as types

from murmuration.mcp_bridge.results import EXCERPTED, FULL
from murmuration.operations import Operation, OperationTable
from murmuration.operations.table import STRING, UNLISTED


def agent_operations(table: OperationTable) -> list[Operation]:
    """The operations an agent may call, in table order (sign-in codes, shutdown and the like are left out)."""
    return [operation for operation in table if operation.for_agents]


def listed_operations(table: OperationTable) -> list[Operation]:
    """The operations tools/list shows: one per job; one merged into another answers by name, unlisted."""
    return [operation for operation in agent_operations(table) if operation.merged_into is None]


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
# Keywords a description says better in fewer bytes (a range, a default), or that only the instance needs to know
# (which field needs which); the instance still enforces each and names the field when a call breaks it.
SAID_IN_WORDS = frozenset(
    {"default", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "const", "format", "dependentRequired"}
)
LEFT_OUT = GUARDS | SAID_IN_WORDS


def input_schema(operation: Operation) -> dict[str, Any]:
    """The operation's parameters as a model reads them, plus the bridge's own `full` where a list comes back as
    excerpts."""
    schema: dict[str, Any] = published(operation.params)
    if operation.name in EXCERPTED:
        schema["properties"] = {**schema["properties"], "full": FULL}
    return schema


def published(schema: Any, inside: bool = False) -> Any:
    """`schema` as tools/list shows it: without its guards and what its descriptions say, without
    `additionalProperties: false`, no description of an array's items (the array's own says what they are), and
    a choice of plain types (`oneOf` string or array) as one list of types, and a parameter's own fields
    (wait_for's log, port, timeout) said by its description alone."""
    if isinstance(schema, list):
        return [published(item, inside) for item in schema]
    if not isinstance(schema, dict):
        return schema
    kept: dict[str, Any] = {}
    for key, value in schema.items():
        if key in LEFT_OUT or (key == "additionalProperties" and value is False):
            continue
        if key in ("properties", "additionalProperties") and inside:
            continue  # a parameter's own fields: its description says them, with an example
        if key == "properties":
            kept[key] = {name: published(field, True) for name, field in value.items() if not field.get(UNLISTED)}
        elif key == "items" and isinstance(value, dict):
            items = {k: v for k, v in published(value).items() if k != "description"}
            if items != {"type": "string"}:  # an array's description says what it holds, with an example
                kept[key] = items
        elif key == "type" and "enum" in schema:
            continue  # the values say it
        elif key == "oneOf" and all(set(published(branch)) <= {"type", "items"} for branch in value):
            branches = [published(branch) for branch in value]
            kept["type"] = [branch["type"] for branch in branches]
            typed = [branch["items"] for branch in branches if branch.get("items", STRING) != STRING]
            if typed:
                kept["items"] = typed[0]
        else:
            kept[key] = published(value, inside)
    return kept


def output_schema(result: dict[str, Any] | None) -> dict[str, Any]:
    """What every result of an operation holds: the fields its result schema requires, less the web_url every
    result carries. Names only: the model reads each value in the result itself, and a client that validates
    holds the instance to them."""
    required = [name for name in (result or {}).get("required", ()) if name != "web_url"]
    return {"type": "object", "required": required} if required else {"type": "object"}


def agent_tools(table: OperationTable) -> list[types.Tool]:
    """Every tool tools/list shows."""
    return [tool_for(operation) for operation in listed_operations(table)]
