"""TurnEvents as the native dialect's JSON events, shared by SSE and the WebSocket."""

from __future__ import annotations

from typing import Any

from roost.api.native.schemas import tokens, tool_uses
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
)


def event_payload(
    event: TurnEvent, session_id: str, model: str, stream_id: str | None = None
) -> dict[str, Any] | None:
    """The event's JSON object, or None for events this dialect does not send (usage).

    `stream_id` (a recorded turn's) goes on the `session` event: the id to resume with.
    """
    if isinstance(event, TurnStarted):
        started = {"type": "session", "session_id": event.conversation_id, "model": event.model}
        if stream_id is not None:
            started["stream_id"] = stream_id
        return started
    if isinstance(event, ContentDelta):
        return {"type": "content", "delta": event.text}
    if isinstance(event, ReasoningDelta):
        return {"type": "reasoning", "delta": event.text}
    if isinstance(event, ToolCall):
        return {
            "type": "tool_start",
            "id": event.id,
            "name": event.name,
            "arguments": event.arguments,
        }
    if isinstance(event, ToolResult):
        return {
            "type": "tool_end",
            "id": event.id,
            "name": event.name,
            "output": event.output,
            "is_error": event.is_error,
        }
    if isinstance(event, ApprovalRequired):
        return {
            "type": "approval_required",
            "id": event.id,
            "call_id": event.call_id,
            "name": event.name,
            "arguments": event.arguments,
            "expires_in": round(event.expires_in, 3),
        }
    if isinstance(event, TurnDone):
        return {
            "type": "done",
            "session_id": session_id,
            "model": model,
            "finish_reason": event.finish_reason,
            "tokens": tokens(event.usage).model_dump(),
            "tools_used": [t.model_dump() for t in tool_uses(event.tools_used)],
        }
    if isinstance(event, TurnFailed):
        return {"type": "error", "error": {"code": event.code, "message": event.message}}
    return None
