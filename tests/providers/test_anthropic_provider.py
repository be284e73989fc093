"""AnthropicProvider against a real local HTTP server speaking Anthropic's event stream."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from roost.config import ModelSettings
from roost.core.errors import ConfigError, ProviderError
from roost.providers.anthropic import AnthropicProvider
from roost.providers.base import (
    ChatMessage,
    ChatRequest,
    Finish,
    GenerationOptions,
    ProviderEvent,
    ReasoningChunk,
    ResponseFormat,
    TextChunk,
    ToolCallChunk,
    ToolChoice,
    ToolSpec,
    UsageChunk,
)
from tests.conftest import free_port, make_settings
from tests.upstreams import ToolCall, Upstream, anthropic_upstream, unused_url

HI = ChatRequest([ChatMessage("user", "hi")])
WEATHER = ToolSpec(
    "get_weather",
    "The weather in a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    with anthropic_upstream() as up:
        yield up


@pytest.fixture
async def provider(upstream: Upstream) -> AsyncIterator[AnthropicProvider]:
    provider = AnthropicProvider(
        "claude", model="claude-test", base_url=upstream.base_url, timeout=2.0
    )
    yield provider
    await provider.close()


async def collect(provider: AnthropicProvider, request: ChatRequest = HI) -> list[ProviderEvent]:
    return [event async for event in provider.stream(request)]


async def failure(provider: AnthropicProvider, request: ChatRequest = HI) -> str:
    with pytest.raises(ProviderError) as caught:
        await collect(provider, request)
    message = caught.value.message
    assert "model 'claude' (upstream 'claude-test')" in message
    return message


def sent_key(upstream: Upstream) -> str:
    """The key as the SDK sent it: `x-api-key`, or a bearer token in newer SDKs."""
    headers = upstream.last.headers
    return headers.get("x-api-key") or headers["authorization"].removeprefix("Bearer ")


async def test_streams_text_then_usage_then_finish(
    provider: AnthropicProvider, upstream: Upstream
) -> None:
    upstream.set(reply="Hello there friend", prompt_tokens=12)
    events = await collect(provider)
    assert events == [
        TextChunk("Hello"),
        TextChunk(" there"),
        TextChunk(" friend"),
        UsageChunk(12, 3),
        Finish("stop"),
    ]
    sent = upstream.last
    assert sent.path == "/v1/messages"
    assert sent_key(upstream) == "not-needed"
    assert sent.body == {
        "model": "claude-test",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
        "max_tokens": 1024,  # Anthropic requires one
        "stream": True,
    }


async def test_messages_are_mapped_to_alternating_turns(
    provider: AnthropicProvider, upstream: Upstream
) -> None:
    call = ToolCallChunk("toolu_1", "get_weather", {"city": "Paris"})
    request = ChatRequest(
        [
            ChatMessage("system", "Be brief."),
            ChatMessage("user", "Hello."),
            ChatMessage("user", "Weather in Paris?"),
            ChatMessage("system", "Use tools."),
            ChatMessage("assistant", "Checking.", tool_calls=(call,)),
            ChatMessage("tool", '{"sky": "clear"}', tool_call_id="toolu_1", name="get_weather"),
            ChatMessage("user", "Thanks!"),
        ]
    )
    await collect(provider, request)
    body = upstream.last.body
    assert body["system"] == "Be brief.\n\nUse tools."
    assert body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Hello."},
                {"type": "text", "text": "Weather in Paris?"},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking."},
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "get_weather",
                    "input": call.arguments,
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": '{"sky": "clear"}'},
                {"type": "text", "text": "Thanks!"},
            ],
        },
    ]


@pytest.mark.parametrize(
    ("choice", "sent"),
    [
        (ToolChoice("auto"), {"type": "auto"}),
        (ToolChoice("required"), {"type": "any"}),
        (ToolChoice("none"), {"type": "none"}),
        (ToolChoice("tool", "get_weather"), {"type": "tool", "name": "get_weather"}),
    ],
)
async def test_tools_and_tool_choice(
    provider: AnthropicProvider, upstream: Upstream, choice: ToolChoice, sent: dict[str, Any]
) -> None:
    await collect(provider, ChatRequest(HI.messages, tools=(WEATHER,), tool_choice=choice))
    body = upstream.last.body
    assert body["tools"] == [
        {
            "name": "get_weather",
            "description": "The weather in a city",
            "input_schema": WEATHER.parameters,
        }
    ]
    assert body["tool_choice"] == sent


async def test_options_are_mapped(provider: AnthropicProvider, upstream: Upstream) -> None:
    options = GenerationOptions(
        temperature=0.2, top_p=0.5, top_k=5, repeat_penalty=1.3, seed=7, max_tokens=64, stop=["END"]
    )
    await collect(provider, ChatRequest(HI.messages, options, tool_choice=ToolChoice("required")))
    body = upstream.last.body
    assert (body["temperature"], body["top_p"], body["top_k"]) == (0.2, 0.5, 5)
    assert body["max_tokens"] == 64
    assert body["stop_sequences"] == ["END"]
    for absent in ("seed", "repeat_penalty", "tools", "tool_choice", "system"):
        assert absent not in body


async def test_json_formats_are_asked_for_in_the_system_prompt(
    provider: AnthropicProvider, upstream: Upstream
) -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "integer"}}}
    request = ChatRequest(
        [ChatMessage("system", "Be brief."), *HI.messages],
        response_format=ResponseFormat("json_schema", schema, "answer"),
    )
    await collect(provider, request)
    system = upstream.last.body["system"]
    assert system.startswith("Be brief.\n\nReply with one JSON object only")
    assert '"answer": {"type": "integer"}' in system


async def test_configured_max_tokens_and_sampling(upstream: Upstream) -> None:
    settings = make_settings(Path("/nonexistent"))
    model = ModelSettings(
        provider="anthropic",
        model="claude-test",
        base_url=upstream.base_url,
        max_tokens=300,
        temperature=0.4,
    )
    provider = AnthropicProvider.from_settings("claude", model, settings)
    try:
        await collect(provider)
        body = upstream.last.body
        assert (body["max_tokens"], body["temperature"]) == (300, 0.4)
        # Newer Claude models refuse temperature and top_p together: unset ones stay unsent.
        assert "top_p" not in body
        assert "top_k" not in body
        assert provider.context_window == 200_000
    finally:
        await provider.close()


async def test_tool_calls_thinking_and_finish(
    provider: AnthropicProvider, upstream: Upstream
) -> None:
    upstream.set(
        reasoning="look it up",
        reply="Let me check.",
        tool_calls=[ToolCall("get_weather", {"city": "Paris", "unit": "celsius"}, id="toolu_a")],
    )
    events = await collect(provider, ChatRequest(HI.messages, tools=(WEATHER,)))
    assert events == [
        ReasoningChunk("look"),
        ReasoningChunk(" it"),
        ReasoningChunk(" up"),
        TextChunk("Let"),
        TextChunk(" me"),
        TextChunk(" check."),
        ToolCallChunk("toolu_a", "get_weather", {"city": "Paris", "unit": "celsius"}),
        UsageChunk(9, 7),
        Finish("tool_calls"),
    ]


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length")],
)
async def test_stop_reasons_are_translated(
    provider: AnthropicProvider, upstream: Upstream, stop_reason: str, finish: str
) -> None:
    upstream.set(finish_reason=stop_reason)
    assert (await collect(provider))[-1] == Finish(finish)


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("http_500", "HTTP 500: Internal server error"),
        ("http_401", "HTTP 401: invalid x-api-key"),
        ("cut", "upstream stream ended early: "),
        ("no_finish", "upstream stream ended early (no stop_reason)"),
        ("error_event", "upstream stream ended early with an error: Overloaded"),
    ],
)
async def test_upstream_failures_become_provider_errors(
    provider: AnthropicProvider, upstream: Upstream, fault: str, expected: str
) -> None:
    upstream.set(reply="one two three four five six", fault=fault)
    assert expected in await failure(provider)


async def test_invalid_tool_arguments_name_the_tool(
    provider: AnthropicProvider, upstream: Upstream
) -> None:
    upstream.set(tool_calls=[ToolCall("get_weather", {"city": "Paris"})], fault="bad_tool_json")
    message = await failure(provider, ChatRequest(HI.messages, tools=(WEATHER,)))
    assert "tool 'get_weather' with invalid JSON arguments" in message


async def test_a_silent_upstream_times_out(upstream: Upstream) -> None:
    provider = AnthropicProvider(
        "claude", model="claude-test", base_url=upstream.base_url, timeout=0.3
    )
    try:
        upstream.set(fault="slow", delay=5)
        start = time.monotonic()
        assert f"no answer from {upstream.url} within 0.3 s" in await failure(provider)
        upstream.set(fault="stall", delay=5)
        assert "upstream stream ended early: no data for 0.3 s" in await failure(provider)
        assert time.monotonic() - start < 3
    finally:
        await provider.close()


async def test_connection_refused_is_reported() -> None:
    url = unused_url("")
    provider = AnthropicProvider("claude", model="claude-test", base_url=url)
    try:
        assert f"connection refused to {url}" in await failure(provider)
        assert await provider.probe() == f"connection refused to {url}"
    finally:
        await provider.close()


async def test_closing_the_stream_early_hangs_up_on_the_upstream(
    provider: AnthropicProvider, upstream: Upstream
) -> None:
    upstream.set(reply=" ".join(["word"] * 200), chunk_delay=0.02)
    stream = provider.stream(HI)
    assert await anext(stream) == TextChunk("word")
    await stream.aclose()
    for _ in range(100):
        if upstream.abandoned:
            break
        await asyncio.sleep(0.02)
    assert upstream.abandoned == 1


async def test_probe(provider: AnthropicProvider, upstream: Upstream) -> None:
    assert await provider.probe() is None
    assert upstream.last.path == "/v1/models"
    upstream.set(fault="http_401")
    assert await provider.probe() == "HTTP 401: invalid x-api-key"


async def test_count_tokens_estimates(provider: AnthropicProvider) -> None:
    call = ToolCallChunk("t", "abc", {})  # 3 + len("{}") characters
    messages = [ChatMessage("user", "x" * 12), ChatMessage("assistant", "", tool_calls=(call,))]
    assert await provider.count_tokens(messages) == (4 + 4) + (1 + 4)


async def test_from_settings(upstream: Upstream, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = make_settings(Path("/nonexistent"))
    with pytest.raises(ConfigError, match="needs `model`"):
        AnthropicProvider.from_settings("claude", ModelSettings(provider="anthropic"), settings)
    monkeypatch.setenv("ROOST_TEST_ANTHROPIC_KEY", "sk-ant-from-env")
    model = ModelSettings(
        provider="anthropic",
        model="claude-test",
        base_url=upstream.base_url,
        api_key_env="ROOST_TEST_ANTHROPIC_KEY",
        context_window=100_000,
    )
    provider = AnthropicProvider.from_settings("claude", model, settings)
    try:
        assert provider.context_window == 100_000
        await collect(provider)
        assert sent_key(upstream) == "sk-ant-from-env"
    finally:
        await provider.close()


async def test_the_first_request_after_an_upstream_restart_is_answered() -> None:
    """The pooled connection died with the old upstream; the request goes out again."""
    port = free_port()
    provider = AnthropicProvider("claude", model="claude-test", base_url=f"http://127.0.0.1:{port}")
    try:
        with anthropic_upstream(port=port):
            assert TextChunk("Hello") in await collect(provider)
        with anthropic_upstream(port=port) as restarted:
            assert TextChunk("Hello") in await collect(provider)
            assert len(restarted.requests) == 1
    finally:
        await provider.close()
