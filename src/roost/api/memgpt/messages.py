"""Messages to an agent and its recall memory.

POST /api/agents/{id}/messages:
- `"stream": true` (MemGPT's documented legacy mode): SSE, per step `internal_monologue`,
  `function_call` ("name({...})"), `assistant_message` (send_message only),
  `function_return`; the stream then closes (no [DONE]). A failure is a last
  `data: {"error": ...}` event.
- `"stream_steps": true`: `[DONE_GEN]`, the step's events (calls as objects), `[DONE_STEP]`
  per step, then `[DONE]`.
- otherwise: `{"messages": [the legacy items], "usage": {...}}`.

One turn at a time per agent: a second message waits for the first (up to `[agents]
queue_timeout`), or with `?wait=false` is refused at once with 409 and
`x-should-retry: false`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from roost.api import docs
from roost.api.deps import PrincipalDep, ServicesDep
from roost.api.errors import STATUS_BY_CODE
from roost.api.limits import open_stream
from roost.api.memgpt.errors import busy
from roost.api.memgpt.render import frame, legacy_item, message_json, step_item
from roost.api.memgpt.schemas import (
    STREAM,
    STREAM_PAYLOADS,
    MemGPTError,
    Messages,
    SendMessageResponse,
)
from roost.api.sse import sse_response
from roost.core.errors import InvalidRequest
from roost.services.agents import AgentBusy, AgentTurn
from roost.services.agents.events import AgentDone, AgentFailed, StepDone

router = APIRouter(prefix="/api/agents", tags=["memgpt"])

AgentId = Annotated[str, Path(max_length=100)]


class UserMessageBody(BaseModel):
    model_config = ConfigDict(extra="ignore")  # e.g. the docs' (ignored) agent_id

    message: StrictStr
    name: StrictStr | None = Field(None, max_length=200)  # accepted, unused (as in MemGPT)
    role: Literal["user", "system"] = "user"
    stream_steps: StrictBool = False
    stream_tokens: StrictBool = False
    timestamp: datetime | None = None
    stream: StrictBool = False


def _error_text(failed: AgentFailed) -> str:
    return failed.message


async def _legacy(turn: AgentTurn) -> AsyncIterator[str]:
    async for event in turn.events():
        if isinstance(event, AgentFailed):
            yield frame({"error": _error_text(event)})
            return
        item = legacy_item(event)
        if item is not None:
            yield frame(item)


async def _steps(turn: AgentTurn) -> AsyncIterator[str]:
    started = False
    async for event in turn.events():
        if isinstance(event, AgentFailed):
            yield frame({"error": _error_text(event)})
            break
        if isinstance(event, AgentDone):
            break
        if not started:  # the model's generation for this step is done
            yield frame("[DONE_GEN]")
            started = True
        if isinstance(event, StepDone):
            yield frame("[DONE_STEP]")
            started = False
            continue
        item = step_item(event)
        if item is not None:
            yield frame(item)
    yield frame("[DONE]")


async def _collect(turn: AgentTurn) -> Response:
    items: list[dict[str, Any]] = []
    final: AgentDone | AgentFailed | None = None
    async for event in turn.events():
        if isinstance(event, AgentDone | AgentFailed):
            final = event
        item = legacy_item(event)
        if item is not None:
            items.append(item)
    if not isinstance(final, AgentDone):
        failed = final or AgentFailed("internal_error", "the turn ended without a result")
        status = STATUS_BY_CODE.get(failed.code, 500)
        return JSONResponse({"detail": failed.message}, status_code=status)
    usage = final.usage
    return JSONResponse(
        {
            "messages": items,
            "usage": {
                "completion_tokens": usage.completion,
                "prompt_tokens": usage.prompt,
                "total_tokens": usage.total,
                "step_count": final.steps,
            },
        }
    )


@router.post(
    "/{agent_id}/messages",
    response_model=None,
    responses={
        **docs.json_or_sse(SendMessageResponse, STREAM, STREAM_PAYLOADS),
        409: {
            "model": MemGPTError,
            "description": "The agent is answering another message (`?wait=false`, or waited "
            "longer than [agents] queue_timeout); `x-should-retry` says whether to try again",
        },
    },
)
async def send_message(
    agent_id: AgentId,
    body: UserMessageBody,
    request: Request,
    services: ServicesDep,
    principal: PrincipalDep,
    wait: Annotated[bool, Query(description="false: 409 at once if the agent is busy")] = True,
) -> Response:
    if body.stream_tokens and not body.stream_steps:
        raise InvalidRequest("stream_steps must be 'true' if stream_tokens is 'true'")
    if body.stream or body.stream_steps:
        open_stream(request)
    try:
        turn = await services.agents.send(
            principal.user,
            agent_id,
            body.message,
            role=body.role,
            timestamp=body.timestamp,
            wait=wait,
        )
    except AgentBusy as exc:
        return busy(exc.message, retry=exc.retry)
    keepalive = services.settings.limits.sse_keepalive_seconds
    frames: Callable[[AgentTurn], AsyncIterator[str]] | None = None
    if body.stream:
        frames = _legacy
    elif body.stream_steps:
        frames = _steps
    if frames is not None:
        return sse_response(frames(turn), keepalive)
    return await _collect(turn)


@router.get("/{agent_id}/messages", response_model=None, responses=docs.ok(Messages))
async def get_messages(
    agent_id: AgentId,
    services: ServicesDep,
    principal: PrincipalDep,
    start: Annotated[int, Query(ge=0, le=1_000_000)],
    count: Annotated[int, Query(ge=1, le=1000)],
) -> dict[str, Any]:
    """Messages newest first, from index `start` (0 = the newest)."""
    agent, found = await services.agents.messages(
        principal.user, agent_id, start=start, count=count
    )
    return {"messages": [message_json(m, m.seq >= agent.context_from) for m in found]}


@router.get("/{agent_id}/messages-cursor", response_model=None, responses=docs.ok(Messages))
async def get_messages_cursor(
    agent_id: AgentId,
    services: ServicesDep,
    principal: PrincipalDep,
    before: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
) -> dict[str, Any]:
    """Messages newest first, before the message `before` (MemGPT ignores `after`; so do we)."""
    agent, found = await services.agents.messages(
        principal.user, agent_id, count=limit, before=before
    )
    return {"messages": [message_json(m, m.seq >= agent.context_from) for m in found]}
