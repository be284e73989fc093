"""GET / (and HEAD): "Ollama is running", the probe clients make before anything else;
and the [ollama] listener's app, which serves this dialect at its root.

The listener hands each request to the main app with /ollama put before its path, so
authentication, limits, errors and services are the main port's, one of each.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from roost.api import docs

PREFIX = "/ollama"
RUNNING = "Ollama is running"

router = APIRouter(tags=["ollama"])


_RUNNING: docs.Responses = {200: {"content": docs.text("text/plain", RUNNING)}}


@router.get("/", response_class=PlainTextResponse, responses=_RUNNING)
async def running() -> str:
    return RUNNING


@router.head("/", response_class=PlainTextResponse, responses=_RUNNING)
async def running_head() -> str:
    return RUNNING


class AtRoot:
    """The listener's ASGI app: /api/chat is the main app's /ollama/api/chat."""

    def __init__(self, find: Callable[[], ASGIApp | None]) -> None:
        self._find = find  # the main app, once it is built (cli/deferred.py)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = self._find()
        if scope["type"] not in ("http", "websocket") or app is None:
            response = PlainTextResponse("roost is starting", status_code=503)
            if scope["type"] == "http":
                await response(scope, receive, send)
            return
        path = scope["path"]
        scope = dict(scope)
        scope["path"] = PREFIX + path
        raw = scope.get("raw_path")
        if raw is not None:
            scope["raw_path"] = PREFIX.encode() + raw
        await app(scope, receive, send)
