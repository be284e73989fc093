"""GET /sessions (the caller's session ids) and GET /session?id= (the HTML preview)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from roost.api.chatnvim.html import HEADERS, render_preview
from roost.api.deps import PrincipalDep, ServicesDep
from roost.core.errors import InvalidRequest

router = APIRouter(tags=["chat.nvim"])

MAX_SESSIONS = 10_000  # the newest; listed oldest first like chat.nvim's


@router.get("/sessions")
async def list_sessions(services: ServicesDep, principal: PrincipalDep) -> list[str]:
    return await services.conversations.public_ids(principal.user, limit=MAX_SESSIONS)


@router.get("/session", response_class=HTMLResponse)
async def preview_session(
    services: ServicesDep,
    principal: PrincipalDep,
    id: Annotated[str | None, Query(max_length=200)] = None,  # the seed's name
) -> HTMLResponse:
    if not id:
        raise InvalidRequest("missing required query parameter: id", "id")
    preview = await services.preview.preview(principal.user, id)
    return HTMLResponse(render_preview(preview), headers=HEADERS)
