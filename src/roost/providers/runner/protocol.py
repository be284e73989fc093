"""The channel between the server and a runner: length-prefixed JSON frames.

A frame is a 4-byte big-endian length and that many bytes of UTF-8 JSON, one object per
frame, over a Unix socket pair. Requests carry an integer `id`; every frame the runner
sends about a request carries it back, so requests can interleave (embeddings during a
generation, and several generations once the runner batches).

Server → runner: `{"op": "chat" | "render" | "count" | "embed" | "cancel", "id": n, ...}`.
Runner → server: `{"op": "ready", ...}` once the model is loaded, or `{"op":
"load_failed", "error": "...", "code": "..."}` (a RoostError's code); then per request
events `{"id": n, "ev": "text" | "reasoning" | "call" | "usage" | "finish" | "result" |
"error" | "end", ...}`.
"""

from __future__ import annotations

import asyncio
import json
import struct
from typing import Any

from roost.core.errors import RoostError, from_code
from roost.providers.base import (
    ChatMessage,
    ChatRequest,
    Finish,
    GenerationOptions,
    ProviderEvent,
    ReasoningChunk,
    ResponseFormat,
    TextChunk,
    ToolCallChunk,
    ToolChoice,
    ToolSpec,
    UsageChunk,
)

_HEADER = struct.Struct(">I")
MAX_FRAME = 256 * 1024 * 1024  # an embedding batch is the largest frame; far below this


class ProtocolError(Exception):
    """The other side sent something that is not a frame: treat the runner as broken."""


def pack(frame: dict[str, Any]) -> bytes:
    body = json.dumps(frame, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return _HEADER.pack(len(body)) + body


async def read_frame(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    """The next frame, or None at a clean end of stream."""
    try:
        header = await reader.readexactly(_HEADER.size)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise ProtocolError("the channel ended inside a frame header") from None
        return None
    (size,) = _HEADER.unpack(header)
    if size > MAX_FRAME:
        raise ProtocolError(f"frame of {size} bytes")
    try:
        body = await reader.readexactly(size)
    except asyncio.IncompleteReadError:
        raise ProtocolError("the channel ended inside a frame") from None
    value = json.loads(body)
    if not isinstance(value, dict):
        raise ProtocolError("a frame that is not a JSON object")
    return value


# -- chat requests ---------------------------------------------------------------------


def _call(call: ToolCallChunk) -> dict[str, Any]:
    return {"id": call.id, "name": call.name, "arguments": call.arguments}


def encode_request(request: ChatRequest) -> dict[str, Any]:
    options = request.options
    fmt = request.response_format
    return {
        "messages": [
            {
                "role": m.role,
                "content": m.content,
                "tool_calls": [_call(c) for c in m.tool_calls],
                "tool_call_id": m.tool_call_id,
                "name": m.name,
            }
            for m in request.messages
        ],
        "options": {
            "temperature": options.temperature,
            "top_p": options.top_p,
            "top_k": options.top_k,
            "repeat_penalty": options.repeat_penalty,
            "max_tokens": options.max_tokens,
            "seed": options.seed,
            "stop": list(options.stop),
            "frequency_penalty": options.frequency_penalty,
            "presence_penalty": options.presence_penalty,
        },
        "tools": [
            {"name": t.name, "description": t.description, "parameters": t.parameters}
            for t in request.tools
        ],
        "tool_choice": {"mode": request.tool_choice.mode, "name": request.tool_choice.name},
        "response_format": (
            None if fmt is None else {"type": fmt.type, "schema": fmt.schema, "name": fmt.name}
        ),
    }


def decode_messages(items: list[dict[str, Any]]) -> list[ChatMessage]:
    return [
        ChatMessage(
            role=m["role"],
            content=m["content"],
            tool_calls=tuple(
                ToolCallChunk(c["id"], c["name"], c["arguments"]) for c in m["tool_calls"]
            ),
            tool_call_id=m["tool_call_id"],
            name=m["name"],
        )
        for m in items
    ]


def encode_messages(messages: list[ChatMessage]) -> list[dict[str, Any]]:
    return list(encode_request(ChatRequest(messages))["messages"])


def decode_request(value: dict[str, Any]) -> ChatRequest:
    fmt = value["response_format"]
    choice = value["tool_choice"]
    return ChatRequest(
        messages=decode_messages(value["messages"]),
        options=GenerationOptions(**value["options"]),
        tools=tuple(ToolSpec(t["name"], t["description"], t["parameters"]) for t in value["tools"]),
        tool_choice=ToolChoice(choice["mode"], choice["name"]),
        response_format=(
            None if fmt is None else ResponseFormat(fmt["type"], fmt["schema"], fmt["name"])
        ),
    )


# -- events ----------------------------------------------------------------------------


def encode_event(request_id: int, event: ProviderEvent) -> dict[str, Any]:
    if isinstance(event, TextChunk):
        return {"id": request_id, "ev": "text", "text": event.text}
    if isinstance(event, ReasoningChunk):
        return {"id": request_id, "ev": "reasoning", "text": event.text}
    if isinstance(event, ToolCallChunk):
        return {
            "id": request_id,
            "ev": "call",
            "call_id": event.id,
            "name": event.name,
            "arguments": event.arguments,
        }
    if isinstance(event, UsageChunk):
        return {
            "id": request_id,
            "ev": "usage",
            "prompt": event.prompt_tokens,
            "completion": event.completion_tokens,
            "cached": event.cached_tokens,
        }
    return {"id": request_id, "ev": "finish", "reason": event.reason, "stop": event.stop_sequence}


def decode_event(frame: dict[str, Any]) -> ProviderEvent:
    kind = frame["ev"]
    if kind == "text":
        return TextChunk(frame["text"])
    if kind == "reasoning":
        return ReasoningChunk(frame["text"])
    if kind == "call":
        return ToolCallChunk(frame["call_id"], frame["name"], frame["arguments"])
    if kind == "usage":
        return UsageChunk(frame["prompt"], frame["completion"], int(frame.get("cached", 0)))
    if kind == "finish":
        return Finish(frame["reason"], frame.get("stop"))
    raise ProtocolError(f"unknown event {kind!r}")


def encode_error(request_id: int, error: RoostError) -> dict[str, Any]:
    return {
        "id": request_id,
        "ev": "error",
        "code": error.code,
        "message": error.message,
        "param": getattr(error, "param", None),
    }


def decode_error(frame: dict[str, Any]) -> RoostError:
    error = from_code(str(frame.get("code")), str(frame.get("message")))
    if frame.get("param") is not None and hasattr(error, "param"):
        error.param = frame["param"]
    return error
