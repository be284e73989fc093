"""POST /api/chat and POST /api/generate: NDJSON lines by default, one object with
`"stream": false`.

Plain ASGI endpoints matched before the routers, as /v1/chat/completions is (see
api/openai/chat.py): the turn path must add no more than the OpenAI dialect's. `described`
holds their FastAPI declarations, from which /openapi.json describes them.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from roost.api import plain
from roost.api.limits import open_stream
from roost.api.ndjson import NdjsonStream
from roost.api.ollama import auth, body, convert, models, render, schemas
from roost.services.auth import Principal
from roost.services.completions import CompletionRequest
from roost.services.container import Services

PREFIX = "/ollama"


async def _answer(
    services: Services,
    principal: Principal,
    request: Request,
    turn: schemas.ChatBody | schemas.GenerateBody,
    *,
    chat: bool,
) -> Response:
    model, settings = convert.resolve(turn.model, services.providers)
    convert.check_think(turn.think, turn.model, models.can_think(settings))
    writer = render.Writer(turn.model, chat=chat, thinking=turn.think is not False)
    empty = not turn.messages if isinstance(turn, schemas.ChatBody) else not turn.prompt
    if empty:  # Ollama's load (or, with keep_alive 0, unload) request
        return await _load(services, model, turn, writer)
    completion_request: CompletionRequest = (
        convert.chat_request(turn, model)
        if isinstance(turn, schemas.ChatBody)
        else convert.generate_request(turn, model)
    )
    if turn.stream:
        open_stream(request)
    completion = await services.completions.start(principal.user, completion_request)
    events = completion.events()
    if turn.stream:
        return NdjsonStream(render.lines(writer, events), deferred=True)
    return JSONResponse(await render.whole(writer, events))


async def _load(
    services: Services,
    model: str,
    turn: schemas.ChatBody | schemas.GenerateBody,
    writer: render.Writer,
) -> Response:
    """A model loads on its first request in roost: "load" only answers; a keep_alive of
    0 unloads it now (or once the requests it answers are done)."""
    reason = "load"
    if convert.options(None, turn.keep_alive).keep_alive == 0:
        await services.loaded.stop(model)
        reason = "unload"
    done: dict[str, Any] = writer.loaded(reason)
    return JSONResponse(done)


class _Endpoint:
    """The endpoint, in FastAPI's order: the body read, the credentials, the fields."""

    def __init__(self, model: type[schemas.ChatBody] | type[schemas.GenerateBody]) -> None:
        self._model = model

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        services: Services = request.app.state.services
        raw = await body.read(request, services.settings.limits.max_json_depth)
        principal = await auth.principal(request, services)
        turn = plain.validated(self._model, raw)
        chat = isinstance(turn, schemas.ChatBody)
        response = await _answer(services, principal, request, turn, chat=chat)
        await response(scope, receive, send)


routes = [
    Route(f"{PREFIX}/api/chat", _Endpoint(schemas.ChatBody), methods=["POST"], name="ollama_chat"),
    Route(
        f"{PREFIX}/api/generate",
        _Endpoint(schemas.GenerateBody),
        methods=["POST"],
        name="ollama_generate",
    ),
]

described = APIRouter(prefix=PREFIX, tags=["ollama"])

_STREAMED = (
    "NDJSON (`application/x-ndjson`): one object a line, the last with `done: true`, "
    'or `{"error": ...}` when the model failed after the stream began; with '
    '`"stream": false`, one JSON object'
)


def _responses(model: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "model": model,
            "description": _STREAMED,
            "content": {
                "application/x-ndjson": {
                    "schema": {"$ref": f"#/components/schemas/{model.__name__}"}
                }
            },
        },
        **schemas.MODEL_FAILED,
    }


@described.post("/api/chat", response_model=None, responses=_responses(schemas.ChatResponse))
async def chat(turn: schemas.ChatBody, principal: auth.PrincipalDep) -> Response:
    raise NotImplementedError  # a declaration for /openapi.json, never mounted: see `routes`


@described.post(
    "/api/generate", response_model=None, responses=_responses(schemas.GenerateResponse)
)
async def generate(turn: schemas.GenerateBody, principal: auth.PrincipalDep) -> Response:
    raise NotImplementedError  # a declaration for /openapi.json, never mounted: see `routes`
