"""Tool results as an agent reads them: structured content plus a readable text, or an error sentence."""

from __future__ import annotations

import json
from typing import Any

import mcp_types as types

from murmuration.client import RpcError
from murmuration.contract import CALLER_ERRORS

# A refusal can quote the offending value whole; an agent needs the gist, not a megabyte of it back.
MAX_SENTENCE = 600
# Lists an agent reads as excerpts unless it asks for `full`: the tool, its list's key and the long text field.
EXCERPTED = {"list_issues": ("issues", "content"), "list_fragments": ("fragments", "body")}
# About 200 characters: a list of 50 issues then stays near 320 bytes an issue, which keeps it under 16 kB.
EXCERPT = 180
# What a list's excerpt leaves out besides the text: the item's own link, its times and who wrote it (full: true
# has them all).
SKIPPED = ("web_url", "created_at", "updated_at", "created_by", "updated_by")
FULL = {"type": "boolean", "description": f"Whole texts, not {EXCERPT}-character excerpts."}


def success(tool: str, result: Any, note: str | None = None, full: bool = False) -> types.CallToolResult:
    """A result an agent reads once: a short sentence and the data as compact JSON (a log as numbered lines),
    with the same data as structured content for programs and for clients that show only that."""
    structured = result if isinstance(result, dict) else {"result": result}
    if tool in EXCERPTED and not full:
        structured = excerpted(structured, *EXCERPTED[tool])
    if tool == "get_process_logs":
        structured = lean_log(structured)
    lines = [note] if note else []
    if tool == "get_process_logs":
        lines.append(log_text(structured))
    else:
        lines.append("OK.")  # short: the 1.2× budget of a text over its JSON leaves little room on tiny results
        lines.append(compact(structured))
    return types.CallToolResult(
        content=[types.TextContent(text="\n".join(lines))],
        structured_content=structured,
    )


def compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def excerpted(result: dict[str, Any], key: str, text_field: str) -> dict[str, Any]:
    """A list result whose items carry the start of their long text and its length instead of the whole, and no
    link of their own (the result's web_url and an item's id lead to it)."""
    items = result.get(key)
    if not isinstance(items, list):
        return result
    short = []
    for item in items:
        text = item.get(text_field, "")
        rest = {k: v for k, v in item.items() if k not in SKIPPED and v not in (None, [], {})}
        rest.pop(text_field, None)
        cut = text if len(text) <= EXCERPT else text[:EXCERPT] + "…"
        short.append({**rest, "excerpt": cut, "length": len(text)})
    return {**result, key: short}


def lean_log(result: dict[str, Any]) -> dict[str, Any]:
    """A log page without what each line repeats: no time stamps (since= finds lines by time), and the stream
    said once for the page when every line shares it."""
    lines = result.get("lines")
    if not isinstance(lines, list):
        return result
    streams = {line.get("stream") for line in lines}
    one = len(streams) == 1
    dropped = ("time", "stream") if one else ("time",)
    lean = {**result, "lines": [{k: v for k, v in line.items() if k not in dropped} for line in lines]}
    if one and lines:
        lean["stream"] = streams.pop()
    return lean


def log_text(result: dict[str, Any]) -> str:
    """A log page as a person reads it: a line of facts, then each line as `N text` (`N*` marks a grep match)."""
    lines = result.get("lines") or []
    facts = [f"{len(lines)} lines of {result.get('process_id')}; next={result.get('next')} first={result.get('first')}"]
    facts += [str(result[k]) for k in ("cut", "more") if k in result]
    facts.append(f"web_url {result.get('web_url')}")
    body = [f"{line.get('n')}{'*' if line.get('match') else ''} {line.get('text', '')}" for line in lines]
    return "\n".join([" ".join(facts), *body])


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
