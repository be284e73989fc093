"""Tool calls and JSON output on llama.cpp models.

The request's tools or response format become a JSON schema, the schema becomes a
llama.cpp grammar, and sampling can then only produce text that matches it: even a 135M
model emits a valid call. The tools are described in the system prompt; earlier calls
and results are written back as plain text every chat template can render.

A model whose chat template renders tools in a format roost reads (tool_formats) calls
them its own way when the request leaves the choice to it (`auto`): the template gets
the tools and the tool traffic as it expects them, and native_tools reads the reply.
`required` or a named tool still goes through the grammar, which guarantees a call.

Every schema is bounded first (schema_limits): what llama.cpp cannot take safely is
refused, and length bounds too large for a grammar are checked on the output instead
(schema_check).
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
from roost.providers.schema_check import violation
from roost.providers.schema_limits import Bounded, Limiter
from roost.providers.schema_patterns import unwritable

Mode = Literal["text", "json", "call", "call_or_text", "native"]

# Free text that does not open with "{": in "auto" mode the first character decides
# between answering and calling.
_TEXT_RULES = "text ::= [^{] [^\\x00]*\n"
# Calls put "name" before "arguments": the model commits to a tool, then fills it in.
_CALL_ORDER = ("name", "arguments")


@dataclass(frozen=True, slots=True)
class Plan:
    mode: Mode
    grammar: str | None  # GBNF, or None for unconstrained text
    messages: list[ChatMessage]
    # JSON output's bounds the grammar could not hold (None: it holds them all), for
    # as_calls to check at the end.
    bounds: Bounded | None = None
    # "native": the tools the chat template itself is given.
    template_tools: tuple[ToolSpec, ...] = ()


def _parameters(tool: ToolSpec) -> dict[str, Any]:
    return tool.parameters or {"type": "object"}


def _call_schema(tools: tuple[ToolSpec, ...]) -> dict[str, Any]:
    limiter = Limiter(_CALL_ORDER)
    variants: list[dict[str, Any]] = []
    defs: dict[str, Any] = {}
    for i, tool in enumerate(tools):
        bounded = limiter.bound(_parameters(tool), f"tool '{tool.name}' parameters", f"t{i}")
        defs.update(bounded.defs)
        variants.append(
            {
                "type": "object",
                "properties": {"name": {"const": tool.name}, "arguments": bounded.grammar},
                "required": ["name", "arguments"],
            }
        )
    schema: dict[str, Any] = variants[0] if len(variants) == 1 else {"anyOf": variants}
    if defs:
        schema["$defs"] = defs
    return schema


def _output_schema(bounded: Bounded) -> dict[str, Any]:
    if not bounded.defs:
        return bounded.grammar
    # The converter does not look inside a root that is itself a $ref.
    root = {"anyOf": [bounded.grammar]} if "$ref" in bounded.grammar else dict(bounded.grammar)
    return {**root, "$defs": bounded.defs}


def tool_bounds(tool: ToolSpec) -> Bounded:
    return _tool_bounds(json.dumps(_parameters(tool), sort_keys=True))


@lru_cache(maxsize=256)
def _tool_bounds(parameters_json: str) -> Bounded:
    """A tool's bounds, as plan() made them (they depend on the schema alone)."""
    return Limiter(_CALL_ORDER).bound(json.loads(parameters_json), "tool parameters", "t")


@lru_cache(maxsize=128)
def _gbnf(schema_json: str, name_first: bool = False) -> str:
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    order = list(_CALL_ORDER) if name_first else None
    try:
        grammar: str = json_schema_to_gbnf(schema_json, prop_order=order)
    except Exception as exc:  # the converter raises assorted errors on schemas it can't do
        raise InvalidRequest(f"cannot turn this JSON schema into a grammar: {exc}") from exc
    # schema_limits checks each pattern; this catches anything else llama.cpp would
    # abort on while sampling.
    dead = unwritable(grammar)
    if dead is not None:
        raise InvalidRequest(f"the schema asks for {dead[:100]}, which no model can write")
    return grammar.rstrip("\n") + "\n"


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


def plan(request: ChatRequest, native: bool = False) -> Plan:
    """Decide how to constrain this request and rewrite its messages accordingly.

    `native`: the model's chat template renders tools and tool traffic in a format
    roost reads (tool_formats)."""
    tools = request.tools
    choice = request.tool_choice
    if native and tools and choice.mode == "auto":
        _call_schema(tools)  # the same bounds as a grammar's, though none is built
        return Plan("native", None, list(request.messages), template_tools=tools)
    grammar_call = bool(tools) and choice.mode != "none"
    if native and not grammar_call:
        messages = list(request.messages)  # the template writes earlier calls its own way
    else:
        messages = [_flatten(m) for m in request.messages]
    if tools and choice.mode != "none":
        if choice.mode == "tool":
            tools = tuple(t for t in tools if t.name == choice.name)
            if not tools:
                raise InvalidRequest(f"tool_choice names '{choice.name}', which is not a tool")
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
        bounded = Limiter().bound(fmt.schema or {}, "response_format schema", "rf")
        grammar = _gbnf(json.dumps(_output_schema(bounded), sort_keys=True))
        return Plan("json", grammar, messages, bounded if bounded.relaxed else None)
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
    except RecursionError:
        raise ProviderError("the model's tool call is nested too deeply to read") from None
    by_name = {t.name: t for t in tools}
    if not isinstance(value, dict) or value.get("name") not in by_name:
        raise ProviderError("the model's tool call names no known tool")
    arguments = value.get("arguments")
    tool = by_name[value["name"]]
    broken = violation(tool_bounds(tool), arguments)
    if broken is not None:
        raise ProviderError(f"the model's call to '{tool.name}' breaks its schema: {broken}")
    return ToolCallChunk(
        f"call_{uuid.uuid4().hex[:24]}",
        value["name"],
        arguments if isinstance(arguments, dict) else {},
    )


def _check_output(text: str, bounds: Bounded) -> None:
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return  # cut off by max_tokens: the text and finish reason say so
    broken = violation(bounds, value)
    if broken is not None:
        raise ProviderError(f"the model's JSON output breaks its schema: {broken}")


async def as_calls(
    events: AsyncIterator[ProviderEvent],
    mode: Mode,
    tools: tuple[ToolSpec, ...],
    bounds: Bounded | None = None,
) -> AsyncGenerator[ProviderEvent, None]:
    """Turn grammar-constrained call text into ToolCallChunks; pass plain answers through.

    Calls are checked against the bounds their grammar could not hold; so is JSON output
    when `bounds` (Plan.bounds) is given, once it is complete, before Finish.
    """
    if mode not in ("call", "call_or_text"):
        written: list[str] = []
        async for event in events:
            if bounds is not None and isinstance(event, TextChunk):
                written.append(event.text)
            elif bounds is not None and isinstance(event, Finish):
                _check_output("".join(written), bounds)
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
