"""The provider interface: a chat request in, an async stream of provider events out.

Like httpx's transports: one small protocol, real implementations beside a scripted one
for tests.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: str  # "system" | "user" | "assistant" | "tool"
    content: str


@dataclass(frozen=True, slots=True)
class GenerationOptions:
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    repeat_penalty: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    stop: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ChatRequest:
    messages: list[ChatMessage]
    options: GenerationOptions = field(default_factory=GenerationOptions)


@dataclass(frozen=True, slots=True)
class TextChunk:
    text: str


@dataclass(frozen=True, slots=True)
class ReasoningChunk:
    text: str


@dataclass(frozen=True, slots=True)
class ToolCallChunk:
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True, slots=True)
class UsageChunk:
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True, slots=True)
class Finish:
    reason: str  # "stop" | "length" | "tool_calls" | "cancelled"


ProviderEvent = TextChunk | ReasoningChunk | ToolCallChunk | UsageChunk | Finish


class ChatProvider(Protocol):
    """A model runtime. Implementations raise roost.core.errors.ProviderError on failure."""

    name: str

    @property
    def context_window(self) -> int: ...

    def stream(self, request: ChatRequest) -> AsyncGenerator[ProviderEvent, None]:
        """Yield events as the model produces them; closing the iterator cancels generation."""
        ...

    async def count_tokens(self, messages: list[ChatMessage]) -> int:
        """Tokens the prompt for these messages takes, template included."""
        ...

    async def close(self) -> None: ...
