"""POST /v1/chat/completions: one JSON completion, or a `chat.completion.chunk` stream."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from roost.api.deps import PrincipalDep, ServicesDep
from roost.api.errors import STATUS_BY_CODE
from roost.api.openai import convert, render
from roost.api.openai.errors import error_object
from roost.api.openai.schemas import ChatCompletionBody
from roost.api.sse import data, sse_response
from roost.core.errors import from_code
from roost.core.events import TurnFailed

router = APIRouter(tags=["openai"])


def _error_frame(failed: TurnFailed) -> str:
    status = STATUS_BY_CODE.get(failed.code, 500)
    return data(error_object(status, failed.code, failed.message, None))


@router.post("/chat/completions", response_model=None)
async def chat_completions(
    body: ChatCompletionBody, services: ServicesDep, principal: PrincipalDep
) -> Response:
    # metadata.session_id names a roost session to store the exchange in (else stateless).
    session_id = (body.metadata or {}).get("session_id")
    completion = await services.completions.start(
        principal.user, convert.completion_request(body, session_id=session_id)
    )
    events = completion.events()
    # Wait for the model's first event before answering, so a model that fails at once
    # (upstream refused, bad schema) is a plain HTTP error, not a 200 with an error inside.
    first = await anext(events, None)
    if first is None or isinstance(first, TurnFailed):
        failed = first or TurnFailed("internal_error", "the model produced nothing")
        raise from_code(failed.code, failed.message)
    if not body.stream:
        final = await render.final(first, events)
        if isinstance(final, TurnFailed):
            raise from_code(final.code, final.message)
        return JSONResponse(render.completion(completion, final))
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    writer = render.ChunkWriter(completion, include_usage=include_usage)
    frames = render.frames(completion, first, events, writer, _error_frame)
    return sse_response(frames, services.settings.limits.sse_keepalive_seconds)
