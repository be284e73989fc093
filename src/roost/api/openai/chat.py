"""POST /v1/chat/completions: one JSON completion, or a `chat.completion.chunk` stream."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from roost.api import docs
from roost.api.deps import PrincipalDep, ServicesDep
from roost.api.errors import STATUS_BY_CODE
from roost.api.limits import open_stream
from roost.api.openai import convert
from roost.api.openai.errors import error_object
from roost.api.openai.respond import respond
from roost.api.openai.schemas import (
    ChatCompletion,
    ChatCompletionBody,
    ChatCompletionChunk,
    ErrorResponse,
)
from roost.api.sse import data
from roost.core.events import TurnFailed

router = APIRouter(tags=["openai"])


def _error_frame(failed: TurnFailed) -> str:
    status = STATUS_BY_CODE.get(failed.code, 500)
    return data(error_object(status, failed.code, failed.message, None))


STREAM = (
    "`chat.completion.chunk` objects, one per `data:` line, then `data: [DONE]`; an error "
    "after the stream opened is a `data:` line with OpenAI's error object"
)


@router.post(
    "/chat/completions",
    response_model=None,
    responses=docs.json_or_sse(
        ChatCompletion, STREAM, [ChatCompletionChunk, ErrorResponse, "[DONE]"]
    ),
)
async def chat_completions(
    body: ChatCompletionBody, request: Request, services: ServicesDep, principal: PrincipalDep
) -> Response:
    if body.stream:
        open_stream(request)
    # metadata.session_id names a roost session to store the exchange in (else stateless).
    session_id = (body.metadata or {}).get("session_id")
    completion = await services.completions.start(
        principal.user, convert.completion_request(body, session_id=session_id)
    )
    return await respond(
        completion,
        stream=body.stream,
        include_usage=bool(body.stream_options and body.stream_options.include_usage),
        error_frame=_error_frame,
        keepalive_seconds=services.settings.limits.sse_keepalive_seconds,
    )
