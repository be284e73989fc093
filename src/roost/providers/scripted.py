"""A provider that replays given events: the test double for turns, tool loops and faults.

It is never a user-facing default; tests install it through the registry.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Sequence

from roost.core.errors import ProviderError
from roost.providers.base import (
    ChatMessage,
    ChatRequest,
    Finish,
    ProviderEvent,
    TextChunk,
    UsageChunk,
)

Script = Sequence[ProviderEvent | Exception | float]
"""Events to yield in order; an Exception is raised there, a float sleeps that long."""


def reply(text: str, prompt_tokens: int = 10) -> list[ProviderEvent | Exception | float]:
    """A plain answer: one chunk per word, usage, stop."""
    words = text.split(" ")
    chunks: list[ProviderEvent | Exception | float] = [
        TextChunk(w if i == 0 else " " + w) for i, w in enumerate(words)
    ]
    return [*chunks, UsageChunk(prompt_tokens, len(words)), Finish("stop")]


class ScriptedProvider:
    def __init__(
        self,
        scripts: Sequence[Script] | Callable[[ChatRequest], Script],
        name: str = "scripted",
        context_window: int = 4096,
    ) -> None:
        self.name = name
        self._scripts = scripts
        self._window = context_window
        self.requests: list[ChatRequest] = []

    @property
    def context_window(self) -> int:
        return self._window

    def _next_script(self, request: ChatRequest) -> Script:
        if callable(self._scripts):
            return self._scripts(request)
        index = len(self.requests) - 1
        if index >= len(self._scripts):
            raise ProviderError("scripted provider has no more scripts")
        return self._scripts[index]

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ProviderEvent, None]:
        self.requests.append(request)
        for item in self._next_script(request):
            if isinstance(item, Exception):
                raise item
            if isinstance(item, float):
                await asyncio.sleep(item)
                continue
            yield item

    async def count_tokens(self, messages: list[ChatMessage]) -> int:
        return sum(len(m.content.split()) + 4 for m in messages)

    async def probe(self) -> str | None:
        return None

    async def close(self) -> None:
        return None
