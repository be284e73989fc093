"""Wire shapes of the native API, with the seed's field names."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from roost.api.keepalive import KeepAlive
from roost.core.clock import isoformat
from roost.core.events import ToolCall
from roost.core.records import Conversation, Message, TokenUsage


class ChatRequestBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    message: StrictStr = Field(description="The user message")
    model: StrictStr | None = Field(None, max_length=200, description="Override default model")
    include_memory: StrictBool = Field(True, description="Load memory context")
    session_id: StrictStr | None = Field(
        None, max_length=200, description="Continue this session; omitted starts a new one"
    )
    keep_alive: KeepAlive = None


class SessionCreateBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    title: StrictStr | None = Field(None, max_length=500)
    model: StrictStr | None = Field(None, max_length=200)
    system_prompt: StrictStr | None = Field(None, max_length=20_000)


class SessionRenameBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: StrictStr = Field(min_length=1, max_length=500)


class Tokens(BaseModel):
    prompt: int
    completion: int
    total: int


class ToolUse(BaseModel):
    name: str
    arguments: dict[str, Any]


class ChatResponseBody(BaseModel):
    response: str
    model: str
    tokens: Tokens
    tools_used: list[ToolUse]
    session_id: str


class SessionOut(BaseModel):
    session_id: str
    title: str
    model: str | None
    created_at: str
    updated_at: str
    message_count: int


class MessageOut(BaseModel):
    role: str
    content: str
    created_at: str
    model: str | None = None
    reasoning: str | None = None
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)
    tokens: Tokens | None = None
    error: str | None = None


class SessionDetail(SessionOut):
    messages: list[MessageOut]


class SessionList(BaseModel):
    sessions: list[SessionOut]
    total: int


class Deleted(BaseModel):
    session_id: str
    deleted: bool


def tokens(usage: TokenUsage) -> Tokens:
    return Tokens(prompt=usage.prompt, completion=usage.completion, total=usage.total)


def tool_uses(calls: list[ToolCall]) -> list[ToolUse]:
    return [ToolUse(name=c.name, arguments=c.arguments) for c in calls]


def session_out(conversation: Conversation, message_count: int | None = None) -> SessionOut:
    return SessionOut(
        session_id=conversation.public_id,
        title=conversation.title,
        model=conversation.model,
        created_at=isoformat(conversation.created_at),
        updated_at=isoformat(conversation.updated_at),
        message_count=conversation.message_count if message_count is None else message_count,
    )


def message_out(message: Message) -> MessageOut:
    return MessageOut(
        role=message.role,
        content=message.content,
        created_at=isoformat(message.created_at),
        model=message.model,
        reasoning=message.reasoning,
        tool_calls=message.tool_calls,
        tokens=tokens(message.usage) if message.usage else None,
        error=message.error,
    )


# Responses the handlers build as dicts; documentation only (see roost.api.docs).


class Health(BaseModel):
    status: str


class ModelOut(BaseModel):
    name: str
    provider: str
    upstream: str | None
    context_window: int | None
    is_default: bool
    created: int
    state: str | None = Field(
        None,
        description="llama.cpp models, run in a process of their own: idle, loading, ready, "
        "restarting or unavailable (null for remote models)",
    )
    restarts: int = Field(0, description="Times the model's process died and was restarted")
    error: str | None = Field(None, description="Why it last died, or why it is unavailable")
    pulled: bool = Field(False, description="In the model store (pulled), not config.toml's")
    size: int | None = Field(None, description="A pulled model's bytes on disk")
    quantization: str | None = Field(None, description="A pulled model's, e.g. Q4_K_M")


class ModelList(BaseModel):
    models: list[ModelOut]
    can_pull: bool = Field(False, description="The caller may pull and remove models (an admin)")


class FileWritten(BaseModel):
    path: str
    size_bytes: int


STREAM = (
    'JSON events, one per `data:` line: `{"type": "session"|"content"|"reasoning"|'
    '"tool_start"|"tool_end"|"approval_required"|"done"|"error", ...}` (see docs/native.md), '
    "then `data: [DONE]`"
)


class StreamEvent(BaseModel):
    """One event of /api/chat/stream (and of /api/ws); the fields beside `type` depend on it."""

    type: Literal[
        "session",
        "content",
        "reasoning",
        "tool_start",
        "tool_end",
        "approval_required",
        "done",
        "error",
    ]
