"""POST /v1/responses: a response as one JSON object, or as its stream of events."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from roost.api import docs
from roost.api.deps import PrincipalDep, ServicesDep
from roost.api.limits import open_stream
from roost.api.responses import convert, errors, render, stream
from roost.api.responses.schemas import ResponseBody
from roost.api.responses.shapes import ResponseObject, StreamEvent
from roost.api.sse import EventStream
from roost.core.errors import from_code
from roost.core.events import TurnDone, TurnEvent, TurnFailed
from roost.services.responses import PreviousResponseNotFound, ResponseRun

router = APIRouter(tags=["responses"])

STREAM = (
    "events named by `event:` and the payload's `type`, each with a `sequence_number`: "
    "response.created, response.in_progress, response.output_item.added, "
    "response.content_part.added, response.output_text.delta, ..., response.completed "
    "(or response.incomplete, response.failed); no [DONE]"
)


async def _final(run: ResponseRun) -> TurnDone | TurnFailed:
    event: TurnEvent | None = None
    async for event in run.events():
        if isinstance(event, TurnDone | TurnFailed):
            return event
    return TurnFailed("internal_error", "the response ended without a result")


def _completed(run: ResponseRun, done: TurnDone) -> dict[str, object]:
    incomplete = done.finish_reason == "length"
    return render.response(
        response_id=run.id,
        created_at=run.created_at,
        model=run.model,
        status="incomplete" if incomplete else "completed",
        params=run.request.params,
        previous_response_id=run.request.previous_response_id,
        items=render.output(run.id, done.message),
        token_usage=done.usage,
        incomplete_reason="max_output_tokens" if incomplete else None,
        completed_at=int(done.message.created_at.timestamp()),
    )


@router.post(
    "/responses",
    response_model=None,
    responses=docs.json_or_sse(ResponseObject, STREAM, [StreamEvent]),
)
async def create_response(
    body: ResponseBody, request: Request, principal: PrincipalDep, services: ServicesDep
) -> Response:
    if body.stream:
        open_stream(request)
    limits = services.settings.limits
    try:
        run = await services.responses.create(
            principal.user, convert.request(body, max_depth=limits.max_json_depth)
        )
    except PreviousResponseNotFound as exc:
        return errors.previous_not_found(exc)
    if body.stream:
        writer = stream.EventWriter(run)
        response = EventStream(None, limits.sse_keepalive_seconds, deferred=True)
        response.frames = stream.frames(run, writer, lambda: response.started)
        return response
    final = await _final(run)
    if isinstance(final, TurnFailed):
        raise from_code(final.code, final.message, final.retry_after)
    return JSONResponse(_completed(run, final))
