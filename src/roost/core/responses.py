"""A stored OpenAI Responses response: which turn of which conversation it is, and what
its request asked for (echoed back by GET /v1/responses/{id})."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from roost.core.records import TokenUsage


@dataclass(frozen=True, slots=True)
class StoredResponse:
    id: str  # "resp_" + 32 hex
    user_id: str
    conversation_id: int
    session_id: str  # the conversation's public id (native sessions, the UI, search)
    input_seq: int  # seq of the message that started its turn; the reply follows it
    model: str
    status: str  # in_progress | completed | incomplete | failed | cancelled
    created_at: datetime
    # The request's parameters as the dialect echoes them (instructions, tools, ...).
    params: dict[str, Any] = field(default_factory=dict)
    previous_response_id: str | None = None
    reply_message_id: int | None = None
    usage: TokenUsage | None = None
    error: dict[str, str] | None = None  # {"code", "message"}
    incomplete_reason: str | None = None
    completed_at: datetime | None = None
