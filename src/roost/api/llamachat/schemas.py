"""LlamaChat's wire shapes. Field names follow the seed; the fields it does not show
(times, messages) are camelCase, as its ASP.NET server writes them."""

from __future__ import annotations

import json

from pydantic import BaseModel, Field

from roost.core.clock import isoformat
from roost.core.errors import InvalidRequest
from roost.core.records import Conversation, Message

MAX_CONTENT_CHARS = 2000


def message_content(raw: bytes) -> str:
    """`content` of a `{"content": "..."}` body, trimmed and within 1-2000 characters.

    Read as JSON whatever the Content-Type says: `curl -d` and some webhook senders
    label JSON as a form, and the intent is plain."""
    if not raw.strip():
        raise InvalidRequest("the body must be JSON with a 'content' field", param="content")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest("request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise InvalidRequest("the body must be a JSON object with a 'content' field", "content")
    if "content" not in body:
        raise InvalidRequest("Missing required parameter: content", param="content")
    content = body["content"]
    if not isinstance(content, str):
        raise InvalidRequest("'content' must be a string", param="content")
    content = content.strip()
    if not 1 <= len(content) <= MAX_CONTENT_CHARS:
        raise InvalidRequest(
            f"'content' must be 1-{MAX_CONTENT_CHARS} characters after trimming whitespace "
            f"(it has {len(content)})",
            param="content",
        )
    return content


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


class TranscriptionForm(BaseModel):
    """The multipart form of POST /api/transcription."""

    audio: bytes


class MessageBody(BaseModel):
    """POST /api/conversations/{id}/messages, read by hand (JSON whatever the Content-Type)."""

    content: str = Field(
        min_length=1, max_length=MAX_CONTENT_CHARS, description="1-2000 characters once trimmed"
    )


class LlamaChatError(BaseModel):
    error: str
