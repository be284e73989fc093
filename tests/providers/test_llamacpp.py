"""The embedded llama.cpp provider with the real SmolLM2 GGUF."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from roost.config import ModelSettings, Settings, load_settings
from roost.core.errors import ConfigError, ProviderError
from roost.providers.base import (
    ChatMessage,
    ChatRequest,
    Finish,
    GenerationOptions,
    TextChunk,
    UsageChunk,
)
from roost.providers.llamacpp import LlamaCppProvider, embedded_model_path

pytestmark = pytest.mark.model

QUESTION = [
    ChatMessage("system", "You are a helpful assistant."),
    ChatMessage("user", "What is the capital of France?"),
]


@pytest.fixture
def settings(home: Path) -> Settings:
    return load_settings(home=home, env={})


@pytest.fixture
async def provider(settings: Settings):  # type: ignore[no-untyped-def]
    instance = LlamaCppProvider.from_settings("smollm2", settings.models["smollm2"], settings)
    yield instance
    await instance.close()


async def collect(provider: LlamaCppProvider, request: ChatRequest) -> list[object]:
    return [event async for event in provider.stream(request)]


def test_the_embedded_gguf_ships_in_a_package() -> None:
    path = embedded_model_path()
    assert path.suffix == ".gguf"
    assert path.stat().st_size > 50_000_000


async def test_loads_lazily_and_once(provider: LlamaCppProvider) -> None:
    assert not provider.loaded
    first, second = await asyncio.gather(provider.load(), provider.load())
    assert first is second
    assert provider.loaded


async def test_answers_token_by_token_with_usage(provider: LlamaCppProvider) -> None:
    events = await collect(
        provider, ChatRequest(QUESTION, GenerationOptions(max_tokens=40, temperature=0.0))
    )
    chunks = [e for e in events if isinstance(e, TextChunk)]
    usage = next(e for e in events if isinstance(e, UsageChunk))
    assert "Paris" in "".join(c.text for c in chunks)
    assert len(chunks) >= 3
    # The prompt adds the assistant header to the messages themselves.
    assert usage.prompt_tokens > await provider.count_tokens(QUESTION)
    assert usage.completion_tokens >= len(chunks)
    assert isinstance(events[-1], Finish)
    assert events[-1].reason == "stop"
    assert "<|im_end|>" not in "".join(c.text for c in chunks)


async def test_max_tokens_ends_with_length(provider: LlamaCppProvider) -> None:
    story = [ChatMessage("user", "Write a very long story about a dragon.")]
    events = await collect(provider, ChatRequest(story, GenerationOptions(max_tokens=5)))
    usage = next(e for e in events if isinstance(e, UsageChunk))
    assert usage.completion_tokens == 5
    assert events[-1] == Finish("length")


async def test_greedy_answers_repeat_from_the_first_request(provider: LlamaCppProvider) -> None:
    """The first (uncached) answer to a prompt equals the later (cached) ones."""
    options = GenerationOptions(max_tokens=20, temperature=0.0)
    first = await collect(provider, ChatRequest(QUESTION, options))
    second = await collect(provider, ChatRequest(QUESTION, options))
    uncached = next(e for e in first if isinstance(e, UsageChunk))
    cached = next(e for e in second if isinstance(e, UsageChunk))
    assert (uncached.cached_tokens, cached.cached_tokens) == (0, uncached.prompt_tokens - 1)
    assert [e for e in first if e is not uncached] == [e for e in second if e is not cached]


async def test_closing_the_stream_stops_generation(provider: LlamaCppProvider) -> None:
    story = [ChatMessage("user", "Write a very long story about a dragon.")]
    stream = provider.stream(ChatRequest(story, GenerationOptions(max_tokens=2000)))
    await anext(stream)
    assert provider.slots[1] == 1  # decoding in one of the batch's slots
    await stream.aclose()
    # The engine drops it at its next round: the slot is free for the next request.
    for _ in range(100):
        if provider.slots[1] == 0:
            break
        await asyncio.sleep(0.05)
    assert provider.slots[1] == 0


async def test_prompt_larger_than_the_context_is_a_provider_error(home: Path) -> None:
    settings = load_settings(home=home, env={})
    small = ModelSettings(n_ctx=128)
    provider = LlamaCppProvider.from_settings("tiny", small, settings)
    try:
        with pytest.raises(ProviderError, match="does not fit"):
            await collect(provider, ChatRequest([ChatMessage("user", "word " * 400)]))
    finally:
        await provider.close()


def test_a_missing_gguf_is_a_config_error(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="not a file"):
        LlamaCppProvider.from_settings("big", ModelSettings(path="nope.gguf"), settings)
