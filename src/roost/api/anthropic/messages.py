"""POST /v1/messages: one `message` object, or the Messages event stream.

A plain ASGI endpoint served past FastAPI's per-request layers, as /v1/chat/completions
is (api/openai/chat.py says why: the added latency of a relayed turn is a target); errors
still go to the app's exception handlers, which render them in Anthropic's shape.
`described` holds the route's FastAPI declaration, from which /openapi.json describes it.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from roost.api import docs, plain
from roost.api.anthropic import convert, render
from roost.api.anthropic.schemas import MessagesBody
from roost.api.anthropic.wire import STREAM_EVENTS, AnthropicMessageOut
from roost.api.deps import PrincipalDep, get_principal
from roost.api.limits import open_stream
from roost.api.sse import EventStream
from roost.core.errors import from_code
from roost.core.events import TurnFailed
from roost.core.records import User
from roost.services.container import Services

PATH = "/v1/messages"
STREAM = (
    "Anthropic's Messages stream: `event:` names the payload's `type`: message_start, "
    "content_block_start, content_block_delta, content_block_stop (per block), "
    "message_delta (stop_reason, usage), message_stop; ping; error after the stream opened"
)


async def _answer(body: MessagesBody, request: Request, services: Services, user: User) -> Response:
    if body.stream:
        open_stream(request)
    completion = await services.completions.start(user, convert.completion_request(body))
    thinking = convert.wants_thinking(body)
    events = completion.events()
    if body.stream:
        writer = render.StreamWriter(completion, thinking=thinking)
        keepalive = services.settings.limits.sse_keepalive_seconds
        response = EventStream(None, keepalive, deferred=True, keepalive=writer.keepalive)
        response.frames = render.frames(events, writer, lambda: response.started)
        return response
    final = await render.final(events)
    if isinstance(final, TurnFailed):
        raise from_code(final.code, final.message, final.retry_after)
    return JSONResponse(render.message(completion, final, thinking=thinking))


class Messages:
    """The endpoint, in FastAPI's order: the body read, the credentials, the fields."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        services: Services = request.app.state.services
        raw = await plain.json_body(request)  # not JSON: a 400 before the credentials
        principal = await get_principal(request, services)
        body = plain.validated(MessagesBody, raw)
        response = await _answer(body, request, services, principal.user)
        await response(scope, receive, send)


route = Route(PATH, endpoint=Messages(), methods=["POST"], name="anthropic_messages")

described = APIRouter(prefix="/v1", tags=["anthropic"])


@described.post(
    "/messages",
    response_model=None,
    responses=docs.json_or_sse(AnthropicMessageOut, STREAM, STREAM_EVENTS),
)
async def messages(body: MessagesBody, principal: PrincipalDep) -> Response:
    raise NotImplementedError  # a declaration for /openapi.json, never mounted: see `route`
