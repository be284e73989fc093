"""GET and DELETE /v1/responses/{id}, GET /v1/responses/{id}/input_items: stored
responses (only the caller's: another user's id is not found)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query

from roost.api import docs
from roost.api.deps import PrincipalDep, ServicesDep
from roost.api.responses import render
from roost.api.responses.shapes import DeletedResponse, InputItemList, ResponseObject

router = APIRouter(tags=["responses"])

ResponseId = Annotated[str, Path(min_length=1, max_length=64)]


def _unix(value: Any) -> int | None:
    return int(value.timestamp()) if value is not None else None


@router.get("/responses/{response_id}", response_model=None, responses=docs.ok(ResponseObject))
async def retrieve_response(
    response_id: ResponseId, principal: PrincipalDep, services: ServicesDep
) -> dict[str, Any]:
    view = await services.responses.get(principal.user, response_id)
    record = view.record
    return render.response(
        response_id=record.id,
        created_at=int(record.created_at.timestamp()),
        model=record.model,
        status=record.status,
        params=record.params,
        previous_response_id=record.previous_response_id,
        items=render.output(record.id, view.reply),
        token_usage=record.usage,
        failure=record.error,
        incomplete_reason=record.incomplete_reason,
        completed_at=_unix(record.completed_at),
    )


@router.delete("/responses/{response_id}", response_model=None, responses=docs.ok(DeletedResponse))
async def delete_response(
    response_id: ResponseId, principal: PrincipalDep, services: ServicesDep
) -> dict[str, Any]:
    await services.responses.delete(principal.user, response_id)
    return {"id": response_id, "object": "response", "deleted": True}


@router.get(
    "/responses/{response_id}/input_items",
    response_model=None,
    responses=docs.ok(InputItemList),
)
async def list_input_items(
    response_id: ResponseId,
    principal: PrincipalDep,
    services: ServicesDep,
    after: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    order: Literal["asc", "desc"] = "desc",
) -> dict[str, Any]:
    messages, replies = await services.responses.input_items(principal.user, response_id)
    items = [
        item for message in messages for item in render.input_item(message, replies.get(message.id))
    ]
    if order == "desc":
        items.reverse()
    if after is not None:
        ids = [item["id"] for item in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    page = items[:limit]
    return {
        "object": "list",
        "data": page,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
        "has_more": len(items) > limit,
    }
