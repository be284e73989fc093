"""Tool calls and JSON output for models without native tool calling (llama.cpp).

The request's tools or response format become a JSON schema, the schema becomes a
llama.cpp grammar, and sampling can then only produce text that matches it: even a 135M
model emits a valid call. The tools are described in the system prompt; earlier calls
and results are written back as plain text every chat template can render.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from roost.core.errors import InvalidRequest, ProviderError
from roost.providers.base import (
    ChatMessage,
    ChatRequest,
    Finish,
    ProviderEvent,
    TextChunk,
    ToolCallChunk,
    ToolSpec,
)

Mode = Literal["text", "json", "call", "call_or_text"]

# Free text that does not open with "{": in "auto" mode the first character decides
# between answering and calling.
_TEXT_RULES = "text ::= [^{] [^\\x00]*\n"


@dataclass(frozen=True, slots=True)
class Plan:
    mode: Mode
    grammar: str | None  # GBNF, or None for unconstrained text
    messages: list[ChatMessage]


def _call_schema(tools: tuple[ToolSpec, ...]) -> dict[str, Any]:
    variants = [
        {
            "type": "object",
            "properties": {
                "name": {"const": tool.name},
                "arguments": tool.parameters or {"type": "object"},
            },
            "required": ["name", "arguments"],
        }
        for tool in tools
    ]
    return variants[0] if len(variants) == 1 else {"anyOf": variants}


@lru_cache(maxsize=128)
def _gbnf(schema_json: str, name_first: bool = False) -> str:
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    # Calls put "name" before "arguments": the model commits to a tool, then fills it in.
    order = ["name", "arguments"] if name_first else None
    try:
        grammar: str = json_schema_to_gbnf(schema_json, prop_order=order)
        return grammar.rstrip("\n") + "\n"
    except Exception as exc:  # the converter raises assorted errors on schemas it can't do
        raise InvalidRequest(f"cannot turn this JSON schema into a grammar: {exc}") from exc


def _json_object_grammar() -> str:
    from llama_cpp.llama_grammar import JSON_GBNF

    return str(JSON_GBNF)


def _describe_tools(tools: tuple[ToolSpec, ...], mode: Mode) -> str:
    listing = json.dumps(
        [{"name": t.name, "description": t.description, "parameters": t.parameters} for t in tools]
    )
    how = 'reply with only a JSON object {"name": <tool name>, "arguments": {...}}'
    if mode == "call_or_text":
        return f"You can call these tools: {listing}\nTo call a tool, {how}; otherwise answer."
    return f"You can call these tools: {listing}\nCall one now: {how}."


def _flatten(message: ChatMessage) -> ChatMessage:
    """Write tool traffic as text, since most chat templates have no tool roles."""
    if message.role == "tool":
        label = message.name or "tool"
        return ChatMessage(
            "user", f"Result of {label} (call {message.tool_call_id}):\n{message.content}"
        )
    if message.tool_calls:
        calls = [{"name": c.name, "arguments": c.arguments} for c in message.tool_calls]
        text = "\n".join(json.dumps(c) for c in calls)
        return ChatMessage("assistant", f"{message.content}\n{text}".strip())
    return message


def plan(request: ChatRequest) -> Plan:
    """Decide how to constrain this request and rewrite its messages accordingly."""
    messages = [_flatten(m) for m in request.messages]
    tools = request.tools
    choice = request.tool_choice
    if tools and choice.mode != "none":
        if choice.mode == "tool":
            tools = tuple(t for t in tools if t.name == choice.name)
        mode: Mode = "call_or_text" if choice.mode == "auto" else "call"
        calls = _gbnf(json.dumps(_call_schema(tools), sort_keys=True), name_first=True)
        if mode == "call":
            grammar = calls
        else:
            grammar = "root ::= call | text\n" + calls.replace("root ::=", "call ::=", 1)
            grammar += _TEXT_RULES
        note = _describe_tools(tools, mode)
        if messages and messages[0].role == "system":
            messages[0] = ChatMessage("system", f"{messages[0].content}\n\n{note}")
        else:
            messages.insert(0, ChatMessage("system", note))
        return Plan(mode, grammar, messages)
    fmt = request.response_format
    if fmt is not None and fmt.type == "json_schema":
        return Plan("json", _gbnf(json.dumps(fmt.schema or {}, sort_keys=True)), messages)
    if fmt is not None and fmt.type == "json_object":
        return Plan("json", _json_object_grammar(), messages)
    return Plan("text", None, messages)


def _parse_call(text: str, tools: tuple[ToolSpec, ...]) -> ToolCallChunk:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise ProviderError(
            "the model's tool call is not complete JSON (cut off by max_tokens?)"
        ) from None
    names = {t.name for t in tools}
    if not isinstance(value, dict) or value.get("name") not in names:
        raise ProviderError("the model's tool call names no known tool")
    arguments = value.get("arguments")
    return ToolCallChunk(
        f"call_{uuid.uuid4().hex[:24]}",
        value["name"],
        arguments if isinstance(arguments, dict) else {},
    )


async def as_calls(
    events: AsyncIterator[ProviderEvent], mode: Mode, tools: tuple[ToolSpec, ...]
) -> AsyncGenerator[ProviderEvent, None]:
    """Turn grammar-constrained call text into ToolCallChunks; pass plain answers through."""
    if mode not in ("call", "call_or_text"):
        async for event in events:
            yield event
        return
    held: list[str] = []
    calling: bool | None = True if mode == "call" else None
    async for event in events:
        if isinstance(event, TextChunk) and calling is not False:
            held.append(event.text)
            if calling is None:
                start = "".join(held).lstrip()
                if start:
                    calling = start.startswith("{")
                    if not calling:
                        yield TextChunk("".join(held))
            continue
        if isinstance(event, Finish):
            if calling:
                yield _parse_call("".join(held), tools)
                yield Finish("tool_calls")
                continue
            if calling is None and held:  # only whitespace came out
                yield TextChunk("".join(held))
        yield event
