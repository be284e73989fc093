"""GET /api/queue and DELETE /api/queue/{id}: what the inbox still holds (a roost extension)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from roost.api.deps import PrincipalDep, ServicesDep
from roost.core.clock import isoformat
from roost.core.errors import NotFound
from roost.core.records import InboxItem

router = APIRouter(prefix="/api/queue", tags=["chat.nvim"])

_WIRE_STATE = {"queued": "pending", "delivering": "delivering", "failed": "failed"}
_MAX_ID = 2**63 - 1


class QueuedMessage(BaseModel):
    id: int
    session: str
    content: str
    state: str  # pending | delivering | failed
    attempts: int
    error: str | None
    created_at: str
    next_attempt_at: str | None


class QueueList(BaseModel):
    messages: list[QueuedMessage]


def queued_out(item: InboxItem) -> QueuedMessage:
    return QueuedMessage(
        id=item.id,
        session=item.session_id,
        content=item.content,
        state=_WIRE_STATE.get(item.state, item.state),
        attempts=item.attempts,
        error=item.last_error,
        created_at=isoformat(item.created_at),
        next_attempt_at=isoformat(item.next_attempt_at) if item.next_attempt_at else None,
    )


@router.get("")
async def list_queue(
    services: ServicesDep,
    principal: PrincipalDep,
    session: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> QueueList:
    items = await services.inbox.queue(principal.user, session_id=session, limit=limit)
    return QueueList(messages=[queued_out(item) for item in items])


@router.delete("/{item_id}", status_code=204, response_class=Response)
async def delete_queued(item_id: str, services: ServicesDep, principal: PrincipalDep) -> None:
    # Anything that is not one of the caller's ids is simply not found.
    if not item_id.isascii() or not item_id.isdigit() or int(item_id) > _MAX_ID:
        raise NotFound(f"queued message {item_id} not found")
    await services.inbox.cancel(principal.user, int(item_id))
