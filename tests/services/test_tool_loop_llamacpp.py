"""The tool loop on the embedded model: grammar-constrained calls from real SmolLM2.

SmolLM2-135M never chooses a tool on its own ("auto"), so a thin wrapper asks for a
call on the first step ("required"); everything else is real: the call is sampled under
the tool-call grammar, the loop runs the tool, and the model answers from the result.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from roost.config import Settings
from roost.core.events import ToolCall, ToolResult, TurnDone
from roost.core.records import User
from roost.providers.base import (
    ChatMessage,
    ChatProvider,
    ChatRequest,
    GenerationOptions,
    ProviderEvent,
    ToolChoice,
    ToolSpec,
)
from roost.providers.registry import ProviderRegistry
from roost.services.approvals import ApprovalService
from roost.services.memory import MemoryService
from roost.services.tool_loop import LoopState, ToolLoop
from roost.services.tools.base import ToolContext
from roost.services.tools.registry import ToolRegistry
from tests.services.memory_fake import FakeMemoryIndex

pytestmark = pytest.mark.model


class FirstCallRequired:
    def __init__(self, inner: ChatProvider) -> None:
        self.inner = inner
        self.name = inner.name
        self.requests: list[ChatRequest] = []

    @property
    def context_window(self) -> int:
        return self.inner.context_window

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ProviderEvent, None]:
        if not self.requests:
            request = replace(request, tool_choice=ToolChoice("required"))
        self.requests.append(request)
        async for event in self.inner.stream(request):
            yield event

    async def count_tokens(self, messages: Any) -> int:
        return await self.inner.count_tokens(messages)

    async def probe(self) -> str | None:
        return None

    async def close(self) -> None:
        await self.inner.close()


class GateCode:
    spec = ToolSpec(
        "memory_search",
        "Search the user's notes",
        {
            "type": "object",
            "properties": {"query": {"type": "string"}},
            "required": ["query"],
            "additionalProperties": False,
        },
    )
    dangerous = False

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    async def run(self, context: ToolContext, arguments: dict[str, Any]) -> str:
        self.seen.append(arguments)
        return "MEMORY.md lines 3-4: The garden gate code is 4417."


async def test_smollm2_calls_a_tool_and_answers_from_its_result(
    settings: Settings,
) -> None:
    settings.memory.watch = False
    registry = ProviderRegistry(settings)
    _, smollm2 = registry.get("smollm2")
    provider = FirstCallRequired(smollm2)
    memory = MemoryService(settings, FakeMemoryIndex())
    tools = ToolRegistry(settings, {}, memory)
    tool = GateCode()
    loop = ToolLoop(tools, ApprovalService(5.0), settings.tools)
    events: list[Any] = []
    state = LoopState()
    user = User("u1", "default", True, datetime.now(UTC))
    question = "What is the garden gate code?"
    try:
        await loop.run(
            user,
            "s1",
            provider,
            [ChatMessage("system", "You are a helpful assistant."), ChatMessage("user", question)],
            GenerationOptions(temperature=0.0, max_tokens=48),
            [tool],
            events.append,
            state,
        )
    finally:
        await registry.close()
    calls = [e for e in events if isinstance(e, ToolCall)]
    assert len(calls) == 1
    assert calls[0].name == "memory_search"
    assert isinstance(calls[0].arguments.get("query"), str)  # valid JSON from the grammar
    assert tool.seen == [calls[0].arguments]
    assert any(isinstance(e, ToolResult) and "4417" in e.output for e in events)
    # Step 2 saw the result and answered in text.
    assert provider.requests[1].messages[-1].role == "tool"
    assert state.out.content.strip()
    assert not any(isinstance(e, TurnDone) for e in events)
