"""`GET /api/search?q=`: full-text search over the caller's own messages (the UI sidebar)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from roost.api.deps import PrincipalDep, ServicesDep
from roost.core.clock import isoformat

router = APIRouter(prefix="/api/search", tags=["native"])

MAX_QUERY = 1_000


class MessageHitOut(BaseModel):
    session_id: str
    title: str
    seq: int
    role: str
    snippet: str
    created_at: str


class MessageSearchOut(BaseModel):
    query: str
    results: list[MessageHitOut]
    total: int


@router.get("")
async def search_messages(
    services: ServicesDep,
    principal: PrincipalDep,
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY, description="Words to find")],
    limit: Annotated[int, Query(ge=1, le=100, description="Max results")] = 20,
) -> MessageSearchOut:
    hits = await services.conversations.search(principal.user, q, limit)
    results = [
        MessageHitOut(
            session_id=h.session_id,
            title=h.title,
            seq=h.seq,
            role=h.role,
            snippet=h.content,
            created_at=isoformat(h.created_at),
        )
        for h in hits
    ]
    return MessageSearchOut(query=q, results=results, total=len(results))
