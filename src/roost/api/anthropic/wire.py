"""What roost's Anthropic answers look like, for /openapi.json only (the handlers build
plain dicts: see render.py)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class AnthropicErrorDetail(BaseModel):
    type: str = Field(description="invalid_request_error, authentication_error, ...")
    message: str


class AnthropicError(BaseModel):
    """Anthropic's error body; the SDK picks the exception from the status."""

    type: Literal["error"]
    error: AnthropicErrorDetail


class AnthropicTextOut(BaseModel):
    type: Literal["text"]
    text: str


class AnthropicThinkingOut(BaseModel):
    type: Literal["thinking"]
    thinking: str
    signature: str = Field(description="always empty: roost does not sign reasoning")


class AnthropicToolUseOut(BaseModel):
    type: Literal["tool_use"]
    id: str
    name: str
    input: dict[str, Any]


class AnthropicUsageOut(BaseModel):
    input_tokens: int
    output_tokens: int


class AnthropicMessageOut(BaseModel):
    id: str
    type: Literal["message"]
    role: Literal["assistant"]
    model: str
    content: list[AnthropicTextOut | AnthropicThinkingOut | AnthropicToolUseOut]
    stop_reason: Literal["end_turn", "max_tokens", "stop_sequence", "tool_use"] | None
    stop_sequence: str | None
    usage: AnthropicUsageOut


class AnthropicMessageStart(BaseModel):
    type: Literal["message_start"]
    message: AnthropicMessageOut


class AnthropicBlockStart(BaseModel):
    type: Literal["content_block_start"]
    index: int
    content_block: AnthropicTextOut | AnthropicThinkingOut | AnthropicToolUseOut


class AnthropicDelta(BaseModel):
    type: Literal["text_delta", "thinking_delta", "signature_delta", "input_json_delta"]
    text: str | None = None
    thinking: str | None = None
    signature: str | None = None
    partial_json: str | None = None


class AnthropicBlockDelta(BaseModel):
    type: Literal["content_block_delta"]
    index: int
    delta: AnthropicDelta


class AnthropicBlockStop(BaseModel):
    type: Literal["content_block_stop"]
    index: int


class AnthropicStopDelta(BaseModel):
    stop_reason: Literal["end_turn", "max_tokens", "stop_sequence", "tool_use"]
    stop_sequence: str | None


class AnthropicDeltaUsage(BaseModel):
    input_tokens: int
    output_tokens: int


class AnthropicMessageDelta(BaseModel):
    type: Literal["message_delta"]
    delta: AnthropicStopDelta
    usage: AnthropicDeltaUsage


class AnthropicMessageStop(BaseModel):
    type: Literal["message_stop"]


class AnthropicPing(BaseModel):
    type: Literal["ping"]


STREAM_EVENTS: list[type[BaseModel]] = [
    AnthropicMessageStart,
    AnthropicBlockStart,
    AnthropicBlockDelta,
    AnthropicBlockStop,
    AnthropicMessageDelta,
    AnthropicMessageStop,
    AnthropicPing,
    AnthropicError,
]


class AnthropicTokenCount(BaseModel):
    input_tokens: int


class AnthropicModel(BaseModel):
    type: Literal["model"]
    id: str
    display_name: str
    created_at: str = Field(description="RFC 3339")


class AnthropicModelPage(BaseModel):
    data: list[AnthropicModel]
    has_more: bool
    first_id: str | None
    last_id: str | None
