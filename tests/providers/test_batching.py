"""Continuous batching with the real SmolLM2 GGUF: several requests decode together."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from roost.config import Settings, load_settings
from roost.providers.base import (
    ChatMessage,
    ChatRequest,
    Finish,
    GenerationOptions,
    ProviderEvent,
    ResponseFormat,
    TextChunk,
    ToolCallChunk,
    ToolChoice,
    ToolSpec,
    UsageChunk,
)
from roost.providers.llamacpp import LlamaCppProvider

pytestmark = pytest.mark.model

PROMPTS = [
    "Tell me about the history of Rome.",
    "What is a cat?",
    "Write a poem about the sea.",
    "Explain how rain forms.",
]
GREEDY = GenerationOptions(max_tokens=48, temperature=0.0)


def ask(text: str, options: GenerationOptions = GREEDY, **kw: object) -> ChatRequest:
    return ChatRequest([ChatMessage("user", text)], options, **kw)  # type: ignore[arg-type]


@dataclass
class Run:
    events: list[ProviderEvent] = field(default_factory=list)
    first: float | None = None  # monotonic time of the first text or call
    end: float | None = None

    @property
    def text(self) -> str:
        return "".join(e.text for e in self.events if isinstance(e, TextChunk))

    @property
    def usage(self) -> UsageChunk:
        return next(e for e in self.events if isinstance(e, UsageChunk))


async def run(provider: LlamaCppProvider, request: ChatRequest) -> Run:
    out = Run()
    async for event in provider.stream(request):
        if out.first is None and isinstance(event, TextChunk | ToolCallChunk):
            out.first = time.monotonic()
        out.events.append(event)
    out.end = time.monotonic()
    return out


def make(home: Path, **model: object) -> LlamaCppProvider:
    settings: Settings = load_settings(home=home, env={})
    own = settings.models["smollm2"].model_copy(update=model)
    return LlamaCppProvider.from_settings("smollm2", own, settings)


@pytest.fixture
async def provider(home: Path) -> AsyncIterator[LlamaCppProvider]:
    instance = make(home)  # parallel = 4, the default
    yield instance
    await instance.close()


async def test_greedy_output_is_the_same_alone_and_in_a_batch_of_four(
    provider: LlamaCppProvider,
) -> None:
    alone = [(await run(provider, ask(p))).text for p in PROMPTS]
    await provider.close()  # a fresh engine: no slot holds any of these prompts
    together = await asyncio.gather(*(run(provider, ask(p)) for p in PROMPTS))
    assert [r.text for r in together] == alone
    assert all(len(text) > 20 for text in alone)


async def test_four_clients_all_stream_from_the_start(provider: LlamaCppProvider) -> None:
    await provider.load()
    options = GenerationOptions(max_tokens=60, temperature=0.0)
    runs = await asyncio.gather(*(run(provider, ask(p, options)) for p in PROMPTS))
    # Every one had its first token before any one of them had finished: they decoded
    # side by side, not one after another.
    assert max(r.first or 0 for r in runs) < min(r.end or 0 for r in runs)
    assert provider.slots == (4, 0, 0)


async def background(provider: LlamaCppProvider, n: int) -> tuple[list[asyncio.Task[Run]], float]:
    """n long text streams, each past its first token."""
    long = GenerationOptions(max_tokens=160, temperature=0.0)
    tasks = [asyncio.create_task(run(provider, ask(p, long))) for p in PROMPTS[:n]]
    while provider.slots[1] < n:
        await asyncio.sleep(0.01)
    started = time.monotonic()
    return tasks, started


WEATHER = ToolSpec(
    "get_weather",
    "Current weather of a city",
    {
        "type": "object",
        "properties": {"city": {"type": "string", "maxLength": 40}},
        "required": ["city"],
    },
)


async def test_a_tool_call_works_while_three_other_streams_run(
    provider: LlamaCppProvider,
) -> None:
    others, _ = await background(provider, 3)
    call = await run(
        provider,
        ask(
            "What is the weather in Paris?",
            GenerationOptions(max_tokens=60, temperature=0.0),
            tools=(WEATHER,),
            tool_choice=ToolChoice("required"),
        ),
    )
    assert not all(t.done() for t in others)  # they were still decoding alongside
    calls = [e for e in call.events if isinstance(e, ToolCallChunk)]
    assert [c.name for c in calls] == ["get_weather"]
    assert isinstance(calls[0].arguments["city"], str)
    assert call.events[-1] == Finish("tool_calls")
    for finished in await asyncio.gather(*others):
        assert len(finished.text) > 100


async def test_a_json_schema_reply_works_while_three_other_streams_run(
    provider: LlamaCppProvider,
) -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string", "maxLength": 30}, "age": {"type": "integer"}},
        "required": ["name", "age"],
    }
    others, _ = await background(provider, 3)
    reply = await run(
        provider,
        ask(
            "Make up a person.",
            GenerationOptions(max_tokens=60, temperature=0.0),
            response_format=ResponseFormat("json_schema", schema, "person"),
        ),
    )
    assert not all(t.done() for t in others)
    person = json.loads(reply.text)
    assert isinstance(person["name"], str)
    assert isinstance(person["age"], int)
    await asyncio.gather(*others)


async def test_each_sequence_samples_with_its_own_chain(provider: LlamaCppProvider) -> None:
    """A seeded, sampled request gives its own answer whatever runs beside it."""
    seeded = GenerationOptions(max_tokens=40, temperature=1.0, top_p=1.0, top_k=0, seed=7)
    alone = await run(provider, ask("Name some animals.", seeded))
    others, _ = await background(provider, 2)
    beside = await run(provider, ask("Name some animals.", seeded))
    other_seed = await run(
        provider,
        ask(
            "Name some animals.",
            GenerationOptions(max_tokens=40, temperature=1.0, top_p=1.0, top_k=0, seed=8),
        ),
    )
    await asyncio.gather(*others)
    assert beside.text == alone.text
    assert other_seed.text != alone.text


async def test_cancelling_one_request_frees_its_slot_at_once(home: Path) -> None:
    provider = make(home, parallel=1)
    try:
        story = ask("Write a very long story about a dragon.", GenerationOptions(max_tokens=2000))
        first = provider.stream(story)
        await anext(first)
        waiting = asyncio.create_task(run(provider, ask("What is a cat?")))
        await asyncio.sleep(0.3)
        assert provider.slots == (1, 1, 1)  # the second waits for the only slot
        await first.aclose()
        second = await asyncio.wait_for(waiting, 60)
        assert second.text
        assert provider.slots == (1, 0, 0)
    finally:
        await provider.close()


async def test_a_conversations_next_turn_reuses_the_evaluated_history(
    provider: LlamaCppProvider,
) -> None:
    history = [
        ChatMessage("system", "You are a helpful assistant. " * 20),
        ChatMessage("user", "What is a cat?"),
    ]
    first = await run(provider, ChatRequest(history, GREEDY))
    assert first.usage.cached_tokens == 0
    # Another conversation in between takes another slot.
    await run(provider, ask("Write a poem about the sea."))
    follow = [*history, ChatMessage("assistant", first.text), ChatMessage("user", "And a dog?")]
    second = await run(provider, ChatRequest(follow, GREEDY))
    # The whole first prompt (and most of the reply) was kept, not evaluated again.
    assert second.usage.cached_tokens >= first.usage.prompt_tokens
    assert second.usage.cached_tokens < second.usage.prompt_tokens


async def test_an_agents_steps_reuse_the_system_prompt_and_memory(
    provider: LlamaCppProvider,
) -> None:
    """A MemGPT agent's next step repeats its system prompt, core memory and messages."""
    system = ChatMessage("system", "You are Sam. Core memory: the user likes cats. " * 15)
    step = [system, ChatMessage("user", "Hello!")]
    one = await run(provider, ChatRequest(step, GREEDY))
    step = [*step, ChatMessage("assistant", one.text), ChatMessage("user", "[heartbeat]")]
    two = await run(provider, ChatRequest(step, GREEDY))
    assert two.usage.cached_tokens >= one.usage.prompt_tokens


async def test_a_cached_prefix_gives_the_same_greedy_answer(provider: LlamaCppProvider) -> None:
    history = [ChatMessage("user", "What is a cat?")]
    first = await run(provider, ChatRequest(history, GREEDY))
    again = await run(provider, ChatRequest(history, GREEDY))
    assert again.usage.cached_tokens == again.usage.prompt_tokens - 1
    assert again.text == first.text
