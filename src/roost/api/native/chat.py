"""POST /api/chat (one JSON answer) and POST /api/chat/stream (token-by-token SSE).

Stream events carry SSE ids; POST /api/chat/stream with `Last-Event-ID` resumes that
stream instead of starting a turn (api/native/streams.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter, Request

from roost.api import docs, keepalive
from roost.api.deps import PrincipalDep, ServicesDep
from roost.api.json_route import JsonBodyRoute
from roost.api.limits import open_stream
from roost.api.native.events import event_payload
from roost.api.native.schemas import (
    STREAM,
    ChatRequestBody,
    ChatResponseBody,
    StreamEvent,
    tokens,
    tool_uses,
)
from roost.api.native.streams import LastEventId, parse_event_id, resumed_frames
from roost.api.sse import DONE, EventStream, data, data_with_id, sse_response
from roost.core.chat import GenerationOptions
from roost.core.errors import InvalidRequest, from_code
from roost.core.events import TurnFailed
from roost.services.auth import Principal
from roost.services.container import Services
from roost.services.turns import TurnHandle

router = APIRouter(prefix="/api/chat", tags=["native"], route_class=JsonBodyRoute)


async def _start(body: ChatRequestBody, services: Services, principal: Principal) -> TurnHandle:
    return await services.turns.start(
        principal.user,
        body.message,
        session_id=body.session_id,
        model=body.model,
        include_memory=body.include_memory,
        options=GenerationOptions(keep_alive=keepalive.seconds(body.keep_alive)),
    )


@router.post("")
async def chat(
    body: ChatRequestBody, services: ServicesDep, principal: PrincipalDep
) -> ChatResponseBody:
    handle = await _start(body, services, principal)
    final = await handle.result()
    if isinstance(final, TurnFailed):
        raise from_code(final.code, final.message, final.retry_after)
    return ChatResponseBody(
        response=final.message.content,
        model=handle.model,
        tokens=tokens(final.usage),
        tools_used=tool_uses(final.tools_used),
        session_id=handle.conversation.public_id,
    )


async def _frames(handle: TurnHandle) -> AsyncIterator[str]:
    session_id, model, stream_id = handle.conversation.public_id, handle.model, handle.stream_id
    async for seq, event in handle.events_with_ids():
        payload = event_payload(event, session_id, model, stream_id)
        if payload is None:
            continue
        yield data(payload) if seq is None else data_with_id(f"{stream_id}:{seq}", payload)
    yield DONE


@router.post(
    "/stream",
    response_class=EventStream,
    status_code=200,
    responses=docs.sse(STREAM, [StreamEvent, "[DONE]"]),
)
async def chat_stream(
    body: ChatRequestBody,
    request: Request,
    services: ServicesDep,
    principal: PrincipalDep,
    last_event_id: LastEventId = None,
) -> EventStream:
    open_stream(request)
    # Errors before the model starts (bad session, unknown model) are plain JSON errors;
    # after the stream opens they arrive as an `error` event.
    keepalive = services.settings.limits.sse_keepalive_seconds
    if last_event_id is not None and last_event_id.strip():  # a reconnect: resume, no new turn
        stream_id, after = parse_event_id(last_event_id)
        if stream_id is None:
            raise InvalidRequest(
                "Last-Event-ID must be '<stream_id>:<n>' here", param="Last-Event-ID"
            )
        followed = await services.streams.follow(principal.user.id, stream_id, after)
        return sse_response(resumed_frames(followed), keepalive)
    handle = await _start(body, services, principal)
    return sse_response(_frames(handle), keepalive)
