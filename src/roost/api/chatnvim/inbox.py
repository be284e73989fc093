"""POST / (queue a message for a session) and POST /session/new (a fresh session id)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from roost.api import docs
from roost.api.chatnvim.schemas import InboxMessage
from roost.api.deps import PrincipalDep, ServicesDep
from roost.core.errors import InvalidRequest

router = APIRouter(tags=["chat.nvim"])


def _field(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None:
        raise InvalidRequest(f"missing required field: {name}", name)
    if not isinstance(value, str):
        raise InvalidRequest(f"'{name}' must be a string", name)
    if not value:
        raise InvalidRequest(f"'{name}' must not be empty", name)
    return value


def parse_message(raw: bytes) -> tuple[str, str]:
    """(session, content) from the body, or InvalidRequest saying what is wrong."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest("request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object")
    return _field(body, "session"), _field(body, "content")


# Read by hand rather than as a pydantic body: chat.nvim's clients send whatever
# Content-Type they like, and each mistake gets its own message.
@router.post(
    "/",
    status_code=204,
    response_class=Response,
    responses={204: {"description": "Queued: the worker delivers it to the session"}},
    openapi_extra=docs.body(InboxMessage),
)
async def post_message(request: Request, services: ServicesDep, principal: PrincipalDep) -> None:
    session, content = parse_message(await request.body())
    await services.inbox.post(principal.user, session, content)


class NewSession(BaseModel):
    id: str


@router.post("/session/new")
async def new_session(services: ServicesDep, principal: PrincipalDep) -> NewSession:
    """A roost extension (newer chat.nvim versions have it too): an empty session named
    by the local time, `YYYY-MM-DD-HH-MM-SS`."""
    conversation = await services.conversations.create_stamped(principal.user)
    return NewSession(id=conversation.public_id)
