"""What a chat request is made of: messages, tools, output format, sampling options.

Plain values shared by the dialects (which parse requests into them), the services and
the providers (which send them to a model).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True, slots=True)
class ToolCallChunk:
    """A complete tool call the model made (providers assemble streamed fragments first)."""

    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: str  # "system" | "user" | "assistant" | "tool"
    content: str
    # An assistant message that called tools carries the calls; a "tool" message answers
    # one call, named by `tool_call_id` (and `name`, the tool's name).
    tool_calls: tuple[ToolCallChunk, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A function the model may call; `parameters` is a JSON schema object."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ToolChoice:
    """auto: the model decides; none: no calls; required: some call; tool: call `name`."""

    mode: Literal["auto", "none", "required", "tool"] = "auto"
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ResponseFormat:
    """json_object: any JSON object; json_schema: JSON matching `schema`."""

    type: Literal["text", "json_object", "json_schema"] = "text"
    schema: dict[str, Any] | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class GenerationOptions:
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    repeat_penalty: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    stop: list[str] = field(default_factory=list)
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    # Local models: seconds to stay loaded once idle after this request (core/keepalive.py:
    # 0 unloads at once, negative never); None: the model's own keep_alive.
    keep_alive: float | None = None
