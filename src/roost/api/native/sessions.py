"""Sessions: create, list, fetch with messages, delete. Owner-scoped: others' ids are 404."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query

from roost.api.deps import PrincipalDep, ServicesDep
from roost.api.json_route import JsonBodyRoute
from roost.api.native.schemas import (
    Deleted,
    SessionCreateBody,
    SessionDetail,
    SessionList,
    SessionOut,
    SessionRenameBody,
    message_out,
    session_out,
)

router = APIRouter(prefix="/api/sessions", tags=["native"], route_class=JsonBodyRoute)


@router.post("")
async def create_session(
    services: ServicesDep,
    principal: PrincipalDep,
    body: Annotated[SessionCreateBody | None, Body()] = None,
) -> SessionOut:
    body = body or SessionCreateBody()
    conversation = await services.conversations.create(
        principal.user, title=body.title, model=body.model, system_prompt=body.system_prompt
    )
    return session_out(conversation)


@router.get("")
async def list_sessions(
    services: ServicesDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> SessionList:
    page, total = await services.conversations.list(principal.user, limit=limit, offset=offset)
    return SessionList(sessions=[session_out(c) for c in page], total=total)


@router.get("/{session_id}")
async def get_session(
    session_id: str, services: ServicesDep, principal: PrincipalDep
) -> SessionDetail:
    conversation, messages = await services.conversations.with_messages(principal.user, session_id)
    summary = session_out(conversation, len(messages))
    return SessionDetail(**summary.model_dump(), messages=[message_out(m) for m in messages])


@router.delete("/{session_id}")
async def delete_session(
    session_id: str, services: ServicesDep, principal: PrincipalDep
) -> Deleted:
    await services.conversations.delete(principal.user, session_id)
    return Deleted(session_id=session_id, deleted=True)


@router.patch("/{session_id}")
async def rename_session(
    session_id: str, body: SessionRenameBody, services: ServicesDep, principal: PrincipalDep
) -> SessionOut:
    renamed = await services.conversations.rename(principal.user, session_id, body.title)
    return session_out(renamed)
