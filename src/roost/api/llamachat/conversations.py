"""LlamaChat conversations: create, send a message and get the reply, list, read."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from roost.api import docs
from roost.api.deps import PrincipalDep, ServicesDep
from roost.api.llamachat.schemas import (
    ConversationDetail,
    ConversationOut,
    ConversationSummary,
    MessageBody,
    MessageOut,
    message_content,
    stored,
    summary,
)

router = APIRouter(prefix="/api/conversations", tags=["llamachat"])


@router.post("")
async def create_conversation(services: ServicesDep, principal: PrincipalDep) -> ConversationOut:
    # The seed sends no body; one that is sent is ignored.
    conversation = await services.dialogue.create(principal.user)
    return ConversationOut(id=conversation.public_id, title=conversation.title)


@router.post("/{conversation_id}/messages", openapi_extra=docs.body(MessageBody))
async def send_message(
    conversation_id: str, request: Request, services: ServicesDep, principal: PrincipalDep
) -> MessageOut:
    content = message_content(await request.body())
    reply = await services.dialogue.send(principal.user, conversation_id, content)
    return MessageOut(role=reply.role, content=reply.content)


@router.get("")
async def list_conversations(
    services: ServicesDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[ConversationSummary]:
    page, _total = await services.dialogue.list(principal.user, limit=limit, offset=offset)
    return [summary(c) for c in page]


@router.get("/{conversation_id}")
async def get_conversation(
    conversation_id: str, services: ServicesDep, principal: PrincipalDep
) -> ConversationDetail:
    conversation, messages = await services.dialogue.read(principal.user, conversation_id)
    return ConversationDetail(
        **summary(conversation).model_dump(),
        messages=[stored(m) for m in messages if m.role in ("user", "assistant")],
    )
