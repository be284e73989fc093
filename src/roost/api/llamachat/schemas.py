"""LlamaChat's wire shapes. Field names follow the seed; the fields it does not show
(times, messages) are camelCase, as its ASP.NET server writes them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, StrictStr

from roost.core.clock import isoformat
from roost.core.records import Conversation, Message

MAX_CONTENT_CHARS = 2000


class MessageBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    content: StrictStr


class ConversationOut(BaseModel):
    id: str
    title: str


class ConversationSummary(ConversationOut):
    createdAt: str
    updatedAt: str


class MessageOut(BaseModel):
    role: str
    content: str


class StoredMessage(MessageOut):
    createdAt: str
    error: str | None = None


class ConversationDetail(ConversationSummary):
    messages: list[StoredMessage]


class TranscriptionOut(BaseModel):
    text: str


def summary(conversation: Conversation) -> ConversationSummary:
    return ConversationSummary(
        id=conversation.public_id,
        title=conversation.title,
        createdAt=isoformat(conversation.created_at),
        updatedAt=isoformat(conversation.updated_at),
    )


def stored(message: Message) -> StoredMessage:
    return StoredMessage(
        role=message.role,
        content=message.content,
        createdAt=isoformat(message.created_at),
        error=message.error,
    )
