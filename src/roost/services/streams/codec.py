"""TurnEvents to JSON and back, as stored for resumable streams.

Stored dialect-neutral, so a stream started in one dialect's wire format is resumed by
the same renderer, on any replica.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from roost.core.events import (
    ApprovalRequired,
    ContentDelta,
    ReasoningDelta,
    ToolCall,
    ToolResult,
    TurnDone,
    TurnEvent,
    TurnFailed,
    TurnStarted,
    Usage,
)
from roost.core.records import Message, TokenUsage

_encode_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
FINAL = (TurnDone, TurnFailed)


def _usage(usage: TokenUsage | None) -> list[int] | None:
    return None if usage is None else [usage.prompt, usage.completion]


def _call(call: ToolCall) -> dict[str, Any]:
    return {"id": call.id, "name": call.name, "arguments": call.arguments}


def _message(m: Message) -> dict[str, Any]:
    return {
        "id": m.id,
        "conversation_id": m.conversation_id,
        "seq": m.seq,
        "role": m.role,
        "content": m.content,
        "created_at": m.created_at.isoformat(),
        "reasoning": m.reasoning,
        "tool_calls": m.tool_calls,
        "model": m.model,
        "usage": _usage(m.usage),
        "error": m.error,
        "inbox_id": m.inbox_id,
    }


def to_json(event: TurnEvent) -> dict[str, Any]:
    if isinstance(event, ContentDelta):
        return {"t": "content", "text": event.text}
    if isinstance(event, ReasoningDelta):
        return {"t": "reasoning", "text": event.text}
    if isinstance(event, TurnStarted):
        return {"t": "started", "conversation_id": event.conversation_id, "model": event.model}
    if isinstance(event, ToolCall):
        return {"t": "tool_call", **_call(event)}
    if isinstance(event, ToolResult):
        return {
            "t": "tool_result",
            "id": event.id,
            "name": event.name,
            "output": event.output,
            "is_error": event.is_error,
        }
    if isinstance(event, ApprovalRequired):
        return {
            "t": "approval",
            "id": event.id,
            "call_id": event.call_id,
            "name": event.name,
            "arguments": event.arguments,
            "expires_in": event.expires_in,
        }
    if isinstance(event, Usage):
        return {"t": "usage", "usage": _usage(event.usage)}
    if isinstance(event, TurnDone):
        return {
            "t": "done",
            "message": _message(event.message),
            "finish_reason": event.finish_reason,
            "usage": _usage(event.usage),
            "tools_used": [_call(c) for c in event.tools_used],
            "stop_sequence": event.stop_sequence,
        }
    return {"t": "failed", "code": event.code, "message": event.message}


def encode(event: TurnEvent) -> str:
    return _encode_json(to_json(event))


def _token_usage(value: Any) -> TokenUsage:
    return TokenUsage(int(value[0]), int(value[1])) if value else TokenUsage()


def _from_message(d: dict[str, Any]) -> Message:
    return Message(
        id=d["id"],
        conversation_id=d["conversation_id"],
        seq=d["seq"],
        role=d["role"],
        content=d["content"],
        created_at=datetime.fromisoformat(d["created_at"]),
        reasoning=d.get("reasoning"),
        tool_calls=d.get("tool_calls") or [],
        model=d.get("model"),
        usage=_token_usage(d["usage"]) if d.get("usage") else None,
        error=d.get("error"),
        inbox_id=d.get("inbox_id"),
    )


def decode(data: str) -> TurnEvent:
    d = json.loads(data)
    kind = d["t"]
    if kind == "content":
        return ContentDelta(d["text"])
    if kind == "reasoning":
        return ReasoningDelta(d["text"])
    if kind == "started":
        return TurnStarted(d["conversation_id"], d["model"])
    if kind == "tool_call":
        return ToolCall(d["id"], d["name"], d["arguments"])
    if kind == "tool_result":
        return ToolResult(d["id"], d["name"], d["output"], d["is_error"])
    if kind == "approval":
        return ApprovalRequired(d["id"], d["call_id"], d["name"], d["arguments"], d["expires_in"])
    if kind == "usage":
        return Usage(_token_usage(d["usage"]))
    if kind == "done":
        return TurnDone(
            _from_message(d["message"]),
            d["finish_reason"],
            _token_usage(d["usage"]),
            [ToolCall(c["id"], c["name"], c["arguments"]) for c in d["tools_used"]],
            d.get("stop_sequence"),  # absent from events stored before it was kept
        )
    if kind == "failed":
        return TurnFailed(d["code"], d["message"])
    raise ValueError(f"unknown stored stream event {kind!r}")
