"""The records every layer passes around: plain frozen dataclasses, no behaviour."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class User:
    id: str
    name: str
    is_admin: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key: only its prefix and hash are kept, never the secret."""

    id: str
    user_id: str
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class NewApiKey:
    """A key just created: the only moment the secret exists outside the client."""

    key: ApiKey
    secret: str


@dataclass(frozen=True, slots=True)
class Conversation:
    id: int
    user_id: str
    public_id: str
    title: str
    model: str | None
    system_prompt: str | None
    created_at: datetime
    updated_at: datetime
    message_count: int = 0


@dataclass(frozen=True, slots=True)
class TokenUsage:
    prompt: int = 0
    completion: int = 0

    @property
    def total(self) -> int:
        return self.prompt + self.completion


@dataclass(frozen=True, slots=True)
class Message:
    id: int
    conversation_id: int
    seq: int
    role: str
    content: str
    created_at: datetime
    reasoning: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    model: str | None = None
    usage: TokenUsage | None = None
    error: str | None = None
    inbox_id: int | None = None  # the queued message this row stores or answers


@dataclass(frozen=True, slots=True)
class InboxItem:
    """A message queued for a session (chat.nvim's inbox), answered in arrival order.

    state: "queued" → "delivering" → "done", or back to "queued" to retry after
    `next_attempt_at`, or "failed" once the attempts run out.
    """

    id: int
    user_id: str
    conversation_id: int
    session_id: str  # the conversation's public id
    content: str
    state: str
    attempts: int
    created_at: datetime
    updated_at: datetime
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    claimed_by: str | None = None  # the replica delivering it (state "delivering")


@dataclass(frozen=True, slots=True)
class Role:
    """A kernel2 role: a named system prompt that a chat request selects by `id`."""

    id: str
    user_id: str
    name: str
    description: str
    system_prompt: str
    enable_l0_retrieval: bool
    enable_l1_retrieval: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class MemoryChunk:
    """A piece of a workspace file; lines are 1-indexed and inclusive."""

    line_start: int
    line_end: int
    text: str


@dataclass(frozen=True, slots=True)
class MemoryHit:
    file: str  # relative to the workspace, with "/" separators
    content: str
    score: float  # higher is better, in (0, 1)
    line_start: int
    line_end: int


@dataclass(frozen=True, slots=True)
class IndexedFile:
    path: str
    content_hash: str
    size_bytes: int
    indexed_at: datetime


@dataclass(frozen=True, slots=True)
class IndexStats:
    files: int
    chunks: int
    last_indexed: datetime | None


@dataclass(frozen=True, slots=True)
class MessageHit:
    """A stored message that matched a full-text search, with the session it belongs to."""

    session_id: str  # the conversation's public id
    title: str
    seq: int
    role: str
    content: str
    created_at: datetime
