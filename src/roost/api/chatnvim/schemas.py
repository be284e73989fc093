"""chat.nvim's wire shapes for /openapi.json: its error body and the inbox message."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ChatNvimError(BaseModel):
    error: str


class InboxMessage(BaseModel):
    """POST / (read by hand, whatever the Content-Type: see inbox.py)."""

    session: str = Field(min_length=1, max_length=200)
    content: str = Field(
        min_length=1, description="Not only whitespace; at most [limits] max_message_chars"
    )
