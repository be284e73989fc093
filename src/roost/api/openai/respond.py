"""Answer a started completion: one JSON object, or a chunk stream (shared with kernel2)."""

from __future__ import annotations

from fastapi.responses import JSONResponse, Response

from roost.api.openai import render
from roost.api.sse import EventStream
from roost.core.errors import from_code
from roost.core.events import TurnFailed
from roost.services.completions import Completion


async def respond(
    completion: Completion,
    *,
    stream: bool,
    include_usage: bool,
    error_frame: render.ErrorFrame,
    keepalive_seconds: float,
) -> Response:
    events = completion.events()
    if stream:
        writer = render.ChunkWriter(completion, include_usage=include_usage)
        response = EventStream(None, keepalive_seconds, deferred=True)
        response.frames = render.frames_opening(
            completion, events, writer, error_frame, lambda: response.started
        )
        return response
    first = await anext(events, None)
    if first is None or isinstance(first, TurnFailed):
        failed = first or TurnFailed("internal_error", "the model produced nothing")
        raise from_code(failed.code, failed.message, failed.retry_after)
    final = await render.final(first, events)
    if isinstance(final, TurnFailed):
        raise from_code(final.code, final.message, final.retry_after)
    return JSONResponse(render.completion(completion, final))
