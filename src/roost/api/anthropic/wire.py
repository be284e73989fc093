"""What roost's Anthropic answers look like, for /openapi.json only (the handlers build
plain dicts: see render.py)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    type: str = Field(description="invalid_request_error, authentication_error, ...")
    message: str


class ErrorResponse(BaseModel):
    """Anthropic's error body; the SDK picks the exception from the status."""

    type: Literal["error"]
    error: ErrorDetail


class TextOut(BaseModel):
    type: Literal["text"]
    text: str


class ThinkingOut(BaseModel):
    type: Literal["thinking"]
    thinking: str
    signature: str = Field(description="always empty: roost does not sign reasoning")


class ToolUseOut(BaseModel):
    type: Literal["tool_use"]
    id: str
    name: str
    input: dict[str, Any]


class UsageOut(BaseModel):
    input_tokens: int
    output_tokens: int


class MessageOut(BaseModel):
    id: str
    type: Literal["message"]
    role: Literal["assistant"]
    model: str
    content: list[TextOut | ThinkingOut | ToolUseOut]
    stop_reason: Literal["end_turn", "max_tokens", "tool_use"] | None
    stop_sequence: str | None
    usage: UsageOut


class MessageStart(BaseModel):
    type: Literal["message_start"]
    message: MessageOut


class BlockStart(BaseModel):
    type: Literal["content_block_start"]
    index: int
    content_block: TextOut | ThinkingOut | ToolUseOut


class Delta(BaseModel):
    type: Literal["text_delta", "thinking_delta", "signature_delta", "input_json_delta"]
    text: str | None = None
    thinking: str | None = None
    signature: str | None = None
    partial_json: str | None = None


class BlockDelta(BaseModel):
    type: Literal["content_block_delta"]
    index: int
    delta: Delta


class BlockStop(BaseModel):
    type: Literal["content_block_stop"]
    index: int


class StopDelta(BaseModel):
    stop_reason: Literal["end_turn", "max_tokens", "tool_use"]
    stop_sequence: str | None


class DeltaUsage(BaseModel):
    input_tokens: int
    output_tokens: int


class MessageDelta(BaseModel):
    type: Literal["message_delta"]
    delta: StopDelta
    usage: DeltaUsage


class MessageStop(BaseModel):
    type: Literal["message_stop"]


class Ping(BaseModel):
    type: Literal["ping"]


STREAM_EVENTS: list[type[BaseModel]] = [
    MessageStart,
    BlockStart,
    BlockDelta,
    BlockStop,
    MessageDelta,
    MessageStop,
    Ping,
    ErrorResponse,
]


class TokenCount(BaseModel):
    input_tokens: int


class ModelInfoOut(BaseModel):
    type: Literal["model"]
    id: str
    display_name: str
    created_at: str = Field(description="RFC 3339")


class ModelPage(BaseModel):
    data: list[ModelInfoOut]
    has_more: bool
    first_id: str | None
    last_id: str | None
