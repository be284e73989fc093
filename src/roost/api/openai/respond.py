"""Answer a started completion: one JSON object, or a chunk stream (shared with kernel2)."""

from __future__ import annotations

from fastapi.responses import JSONResponse, Response

from roost.api.openai import render
from roost.api.sse import sse_response
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
    # Wait for the model's first event before answering, so a model that fails at once
    # (upstream refused, bad schema) is a plain HTTP error, not a 200 with an error inside.
    first = await anext(events, None)
    if first is None or isinstance(first, TurnFailed):
        failed = first or TurnFailed("internal_error", "the model produced nothing")
        raise from_code(failed.code, failed.message)
    if not stream:
        final = await render.final(first, events)
        if isinstance(final, TurnFailed):
            raise from_code(final.code, final.message)
        return JSONResponse(render.completion(completion, final))
    writer = render.ChunkWriter(completion, include_usage=include_usage)
    frames = render.frames(completion, first, events, writer, error_frame)
    return sse_response(frames, keepalive_seconds)
