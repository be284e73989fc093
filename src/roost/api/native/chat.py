"""POST /api/chat (one JSON answer) and POST /api/chat/stream (token-by-token SSE)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter

from roost.api.deps import PrincipalDep, ServicesDep
from roost.api.native.schemas import ChatRequestBody, ChatResponseBody, tokens, tool_uses
from roost.api.sse import DONE, EventStream, data, sse_response
from roost.core.errors import from_code
from roost.core.events import (
    ContentDelta,
    ReasoningDelta,
    ToolCall,
    ToolResult,
    TurnDone,
    TurnFailed,
    TurnStarted,
)
from roost.services.auth import Principal
from roost.services.container import Services
from roost.services.turns import TurnHandle

router = APIRouter(prefix="/api/chat", tags=["native"])


async def _start(body: ChatRequestBody, services: Services, principal: Principal) -> TurnHandle:
    return await services.turns.start(
        principal.user,
        body.message,
        session_id=body.session_id,
        model=body.model,
        include_memory=body.include_memory,
    )


@router.post("")
async def chat(
    body: ChatRequestBody, services: ServicesDep, principal: PrincipalDep
) -> ChatResponseBody:
    handle = await _start(body, services, principal)
    final = await handle.result()
    if isinstance(final, TurnFailed):
        raise from_code(final.code, final.message)
    return ChatResponseBody(
        response=final.message.content,
        model=handle.model,
        tokens=tokens(final.usage),
        tools_used=tool_uses(final.tools_used),
        session_id=handle.conversation.public_id,
    )


async def _frames(handle: TurnHandle) -> AsyncIterator[str]:
    async for event in handle.events():
        if isinstance(event, TurnStarted):
            yield data(
                {"type": "session", "session_id": event.conversation_id, "model": event.model}
            )
        elif isinstance(event, ContentDelta):
            yield data({"type": "content", "delta": event.text})
        elif isinstance(event, ReasoningDelta):
            yield data({"type": "reasoning", "delta": event.text})
        elif isinstance(event, ToolCall):
            yield data(
                {
                    "type": "tool_call",
                    "id": event.id,
                    "name": event.name,
                    "arguments": event.arguments,
                }
            )
        elif isinstance(event, ToolResult):
            yield data(
                {
                    "type": "tool_result",
                    "id": event.id,
                    "name": event.name,
                    "output": event.output,
                    "is_error": event.is_error,
                }
            )
        elif isinstance(event, TurnDone):
            yield data(
                {
                    "type": "done",
                    "session_id": handle.conversation.public_id,
                    "model": handle.model,
                    "finish_reason": event.finish_reason,
                    "tokens": tokens(event.usage).model_dump(),
                    "tools_used": [t.model_dump() for t in tool_uses(event.tools_used)],
                }
            )
        elif isinstance(event, TurnFailed):
            yield data({"type": "error", "error": {"code": event.code, "message": event.message}})
    yield DONE


@router.post("/stream", response_class=EventStream)
async def chat_stream(
    body: ChatRequestBody, services: ServicesDep, principal: PrincipalDep
) -> EventStream:
    # Errors before the model starts (bad session, unknown model) are plain JSON errors;
    # after the stream opens they arrive as an `error` event.
    handle = await _start(body, services, principal)
    return sse_response(_frames(handle), services.settings.limits.sse_keepalive_seconds)
