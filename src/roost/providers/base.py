"""The provider interface: a chat request in, an async stream of provider events out.

Like httpx's transports: one small protocol, real implementations beside a scripted one
for tests.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from roost.core.chat import (
    ChatMessage,
    GenerationOptions,
    ResponseFormat,
    ToolCallChunk,
    ToolChoice,
    ToolSpec,
)

__all__ = [
    "ChatMessage",
    "ChatProvider",
    "ChatRequest",
    "EmbeddingProvider",
    "Embeddings",
    "Finish",
    "GenerationOptions",
    "ProviderEvent",
    "ReasoningChunk",
    "ResponseFormat",
    "RuntimeStatus",
    "Supervised",
    "TextChunk",
    "ToolCallChunk",
    "ToolChoice",
    "ToolSpec",
    "Unloadable",
    "UsageChunk",
]


@dataclass(frozen=True, slots=True)
class ChatRequest:
    messages: list[ChatMessage]
    options: GenerationOptions = field(default_factory=GenerationOptions)
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice = field(default_factory=ToolChoice)
    response_format: ResponseFormat | None = None


@dataclass(frozen=True, slots=True)
class TextChunk:
    text: str


@dataclass(frozen=True, slots=True)
class ReasoningChunk:
    text: str


@dataclass(frozen=True, slots=True)
class UsageChunk:
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0  # prompt tokens whose K/V a local model kept from before


@dataclass(frozen=True, slots=True)
class Finish:
    reason: str  # "stop" | "length" | "tool_calls" | "cancelled"
    stop_sequence: str | None = None  # with "stop": the stop string the reply reached


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

    async def probe(self) -> str | None:
        """None when the model can be used, else why not (file missing, server unreachable).

        Cheap: it must not load weights or generate."""
        ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Embeddings:
    vectors: list[list[float]]
    prompt_tokens: int


@runtime_checkable
class EmbeddingProvider(Protocol):
    """A provider that can also turn text into vectors (llama.cpp models, remote APIs)."""

    async def embed(self, texts: list[str]) -> Embeddings: ...


@dataclass(frozen=True, slots=True)
class RuntimeStatus:
    """A model that runs in a process roost supervises (llama.cpp runners)."""

    state: str  # idle | loading | ready | restarting | unavailable
    pid: int | None
    restarts: int  # processes that died and were replaced since the server started
    last_error: str | None  # why the last one died, or why the model is unavailable
    rss_bytes: int | None
    slots: int = 0  # sequences the runner decodes in one batch ([models.NAME] parallel)
    slots_busy: int = 0  # generating now
    queued: int = 0  # waiting for a slot
    memory_bytes: int = 0  # the memory estimate it loads with (runner/memory.py)
    expires_at: float | None = None  # unix time it unloads if left idle; None: never, or not loaded


@runtime_checkable
class Supervised(Protocol):
    def status(self) -> RuntimeStatus: ...


@runtime_checkable
class Unloadable(Protocol):
    """A model roost loads itself, which can be unloaded on request (`roost stop`)."""

    async def unload(self) -> bool:
        """Unload now, or once its requests are done; False when it was not loaded."""
        ...
