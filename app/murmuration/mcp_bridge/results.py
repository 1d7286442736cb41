"""Tool results as an agent reads them: structured content plus a readable text, or an error sentence."""

from __future__ import annotations

import json
from typing import Any

import mcp_types as types

from murmuration.client import RpcError
from murmuration.contract import CALLER_ERRORS

# A refusal can quote the offending value whole; an agent needs the gist, not a megabyte of it back.
MAX_SENTENCE = 600


def success(tool: str, result: Any, note: str | None = None) -> types.CallToolResult:
    """A result with the instance's answer as structured content and as indented JSON text."""
    structured = result if isinstance(result, dict) else {"result": result}
    lines = [note] if note else []
    link = structured.get("web_url")
    lines.append(f"{tool} done." + (f" Dashboard: {link}" if isinstance(link, str) else ""))
    lines.append(json.dumps(structured, indent=2, ensure_ascii=False))
    return types.CallToolResult(
        content=[types.TextContent(text="\n".join(lines))],
        structured_content=structured,
    )


def failure(sentence: str, kind: str = "unavailable", details: dict[str, Any] | None = None) -> types.CallToolResult:
    """A tool error: the sentence for the agent, and the same as structured content for programs."""
    error: dict[str, Any] = {"kind": kind, "message": sentence, **(details or {})}
    return types.CallToolResult(
        content=[types.TextContent(text=sentence)],
        structured_content={"error": error},
        is_error=True,
    )


def refused(exc: RpcError, log_hint: str) -> types.CallToolResult:
    """The instance's refusal of a call: its own sentence, naming the bad field where it did."""
    kind = CALLER_ERRORS.get(exc.code)
    details: dict[str, Any] = {"code": exc.code}
    if exc.data is not None:
        details["data"] = _shortened(exc.data)
    message = _shortened(exc.message)
    if kind is not None:
        return failure(message, kind, details)
    # Anything else is the instance's own trouble, not the caller's: point at where it is explained.
    return failure(f"{message.rstrip('.')} (the instance's error; {log_hint}).", "instance_error", details)


def _shortened(value: Any) -> Any:
    """`value` with the middle of every long string left out, so a sentence keeps its start and its end."""
    if isinstance(value, str):
        if len(value) <= MAX_SENTENCE:
            return value
        return value[: MAX_SENTENCE - 200] + f" […{len(value) - MAX_SENTENCE} characters…] " + value[-200:]
    if isinstance(value, dict):
        return {k: _shortened(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shortened(v) for v in value]
    return value
