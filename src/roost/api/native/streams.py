"""GET /api/streams/{stream_id}: resume a turn's SSE stream, on any replica.

Each event of a stored turn has the SSE id `<stream_id>:<n>`. A client that lost the
connection sends the last id it saw as `Last-Event-ID` (what EventSource does by itself
when it reconnects) and gets the events after it, then the live rest, then `[DONE]`. See
docs/native.md ("Resuming a stream").
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request

from roost.api import docs
from roost.api.deps import PrincipalDep, ServicesDep
from roost.api.limits import open_stream
from roost.api.native.events import event_payload
from roost.api.native.schemas import STREAM, StreamEvent
from roost.api.sse import DONE, EventStream, data_with_id, sse_response
from roost.core.errors import InvalidRequest
from roost.core.events import TurnDone, TurnFailed
from roost.services.streams.service import Followed

router = APIRouter(prefix="/api/streams", tags=["native"])

MAX_EVENT_ID = 100
LastEventId = Annotated[str | None, Header(max_length=MAX_EVENT_ID)]


def parse_event_id(raw: str) -> tuple[str | None, int]:
    """`<stream_id>:<n>` or a bare `<n>` → (stream id or None, n)."""
    stream_id, sep, number = raw.strip().rpartition(":")
    if not number.isdigit() or len(number) > 12 or (sep and not stream_id):
        raise InvalidRequest(
            "Last-Event-ID must be an event id, '<stream_id>:<n>'", param="Last-Event-ID"
        )
    return (stream_id or None), int(number)


async def resumed_frames(followed: Followed) -> AsyncIterator[str]:
    """The SSE frames of a resumed stream; `[DONE]` only once its last event went out."""
    async for seq, event in followed.events:
        payload = event_payload(event, followed.session_id, followed.model, followed.stream_id)
        if payload is not None:
            yield data_with_id(f"{followed.stream_id}:{seq}", payload)
        if isinstance(event, TurnDone | TurnFailed):
            yield DONE
            return
    if followed.ended:  # the client had every event already
        yield DONE
    # Otherwise the stream stopped before its last event (its server went quiet): no
    # [DONE], so the client reconnects with the last id it saw.


@router.get(
    "/{stream_id}",
    response_class=EventStream,
    status_code=200,
    responses=docs.sse(STREAM, [StreamEvent, "[DONE]"]),
)
async def resume_stream(
    stream_id: Annotated[str, Path(max_length=64)],
    request: Request,
    services: ServicesDep,
    principal: PrincipalDep,
    last_event_id: LastEventId = None,
    after: Annotated[int, Query(ge=0, le=10**12)] = 0,
) -> EventStream:
    open_stream(request)  # a resumed stream holds a stream slot like the one it continues
    # Last-Event-ID wins over ?after=: EventSource reconnects to the same URL with it.
    if last_event_id is not None and last_event_id.strip():
        named, after = parse_event_id(last_event_id)
        if named is not None and named != stream_id:
            raise InvalidRequest(
                "Last-Event-ID names another stream than the URL", param="Last-Event-ID"
            )
    followed = await services.streams.follow(principal.user.id, stream_id, after)
    return sse_response(resumed_frames(followed), services.settings.limits.sse_keepalive_seconds)
