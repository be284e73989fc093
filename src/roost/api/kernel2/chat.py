"""POST /api/kernel2/chat: Second-Me's OpenAI-compatible chat (seed 001).

The same completion service and chunks as /v1, with Second-Me's defaults (stream on,
temperature 0.1, max_tokens 2000), `metadata.role_id` choosing a stored role's system
prompt, and Second-Me's error shape.
"""

from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from roost.api import docs
from roost.api.deps import PrincipalDep, ServicesDep
from roost.api.errors import STATUS_BY_CODE
from roost.api.kernel2.schemas import Kernel2StreamError
from roost.api.limits import open_stream
from roost.api.openai import convert
from roost.api.openai.respond import respond
from roost.api.openai.schemas import ChatCompletion, ChatCompletionChunk, ChatFields
from roost.api.sse import data
from roost.core.events import TurnFailed

router = APIRouter(prefix="/api/kernel2", tags=["kernel2"])


class Kernel2Metadata(BaseModel):
    model_config = ConfigDict(extra="ignore")

    enable_l0_retrieval: bool = False
    enable_l1_retrieval: bool = False
    role_id: str | None = Field(None, min_length=1, max_length=64)


class Kernel2ChatBody(ChatFields):
    stream: bool = True
    temperature: float | None = Field(0.1, ge=0.0, le=2.0)
    max_tokens: int | None = Field(2000, ge=1, le=1_000_000)
    metadata: Kernel2Metadata | None = None


def _error_frame(failed: TurnFailed) -> str:
    # An in-band error keeps an empty `choices` entry, so clients written like the seed's
    # example (reading choices[0].delta) stop cleanly instead of raising KeyError.
    status = STATUS_BY_CODE.get(failed.code, 500)
    return data(
        {
            "success": False,
            "message": failed.message,
            "code": status,
            "choices": [{"index": 0, "delta": {}, "finish_reason": "error"}],
        }
    )


STREAM = (
    "OpenAI `chat.completion.chunk` objects, then `data: [DONE]`; an error after the stream "
    'opened is `data: {"success": false, "message", "code", "choices": [...]}`'
)


@router.post(
    "/chat",
    response_model=None,
    responses=docs.json_or_sse(
        ChatCompletion, STREAM, [ChatCompletionChunk, Kernel2StreamError, "[DONE]"]
    ),
)
async def chat(
    body: Kernel2ChatBody, http: Request, services: ServicesDep, principal: PrincipalDep
) -> Response:
    if body.stream:
        open_stream(http)
    metadata = body.metadata or Kernel2Metadata()
    request = replace(
        convert.completion_request(
            body, role_id=metadata.role_id, max_depth=services.settings.limits.max_json_depth
        ),
        unknown_model_is_default=True,
        retrieval=metadata.enable_l0_retrieval,
    )
    completion = await services.completions.start(principal.user, request)
    return await respond(
        completion,
        stream=body.stream,
        include_usage=False,
        error_frame=_error_frame,
        keepalive_seconds=services.settings.limits.sse_keepalive_seconds,
    )
