"""The Responses API's answers, for /openapi.json only (the handlers build plain dicts)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class Usage(BaseModel):
    input_tokens: int
    input_tokens_details: dict[str, int]
    output_tokens: int
    output_tokens_details: dict[str, int]
    total_tokens: int


class ResponseError(BaseModel):
    code: str
    message: str


class ResponseObject(BaseModel):
    id: str = Field(description="resp_ + 32 hex")
    object: Literal["response"]
    created_at: int
    status: Literal["completed", "failed", "in_progress", "cancelled", "incomplete"]
    background: bool
    completed_at: int | None
    error: ResponseError | None
    incomplete_details: dict[str, str] | None
    model: str
    output: list[dict[str, Any]] = Field(
        description="reasoning, message (output_text parts) and function_call items"
    )
    previous_response_id: str | None
    usage: Usage | None
    instructions: str | None
    max_output_tokens: int | None
    metadata: dict[str, str]
    parallel_tool_calls: bool
    reasoning: dict[str, Any]
    store: bool
    temperature: float | None
    text: dict[str, Any]
    tool_choice: str | dict[str, Any]
    tools: list[dict[str, Any]]
    top_p: float | None
    truncation: str
    user: str | None


class StreamEvent(BaseModel):
    """One event of a streamed response (`event:` names its type too)."""

    type: str = Field(description="response.created, response.output_text.delta, ...")
    sequence_number: int


class DeletedResponse(BaseModel):
    id: str
    object: Literal["response"]
    deleted: Literal[True]


class InputItemList(BaseModel):
    object: Literal["list"]
    data: list[dict[str, Any]] = Field(description="message, function_call, function_call_output")
    first_id: str | None
    last_id: str | None
    has_more: bool
