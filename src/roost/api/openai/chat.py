"""POST /v1/chat/completions: one JSON completion, or a `chat.completion.chunk` stream.

The most frequent request a relay serves, and the one whose added latency is a target
(benchmarks/proxy_overhead.py): it is a plain ASGI endpoint, matched first, that does what
FastAPI's handler would (api/plain.py reads the body as FastAPI does) without its
per-request dependency solving. Errors still go to the app's exception handlers, so they
read as on every other /v1 route. `described` holds the route's FastAPI declaration, from
which /openapi.json describes it; it is never mounted.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from roost.api import docs, plain
from roost.api.deps import PrincipalDep, get_principal
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
from roost.services.auth import Principal
from roost.services.container import Services

PATH = "/v1/chat/completions"


def _error_frame(failed: TurnFailed) -> str:
    status = STATUS_BY_CODE.get(failed.code, 500)
    return data(error_object(status, failed.code, failed.message, None))


STREAM = (
    "`chat.completion.chunk` objects, one per `data:` line, then `data: [DONE]`; an error "
    "after the stream opened is a `data:` line with OpenAI's error object"
)


async def _complete(
    body: ChatCompletionBody, principal: Principal, request: Request, services: Services
) -> Response:
    if body.stream:
        open_stream(request)
    # metadata.session_id names a roost session to store the exchange in (else stateless).
    session_id = (body.metadata or {}).get("session_id")
    completion = await services.completions.start(
        principal.user,
        convert.completion_request(
            body, session_id=session_id, max_depth=services.settings.limits.max_json_depth
        ),
    )
    return await respond(
        completion,
        stream=body.stream,
        include_usage=bool(body.stream_options and body.stream_options.include_usage),
        error_frame=_error_frame,
        keepalive_seconds=services.settings.limits.sse_keepalive_seconds,
    )


class ChatCompletions:
    """The endpoint, in FastAPI's order: the body read, the credentials, the fields."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        services: Services = request.app.state.services
        raw = await plain.json_body(request)  # not JSON: a 400 before the credentials
        principal = await get_principal(request, services)
        body = plain.validated(ChatCompletionBody, raw)
        response = await _complete(body, principal, request, services)
        await response(scope, receive, send)


route = Route(PATH, endpoint=ChatCompletions(), methods=["POST"], name="chat_completions")

described = APIRouter(prefix="/v1", tags=["openai"])


@described.post(
    "/chat/completions",
    response_model=None,
    responses=docs.json_or_sse(
        ChatCompletion, STREAM, [ChatCompletionChunk, ErrorResponse, "[DONE]"]
    ),
)
async def chat_completions(body: ChatCompletionBody, principal: PrincipalDep) -> Response:
    raise NotImplementedError  # a declaration for /openapi.json, never mounted: see `route`
