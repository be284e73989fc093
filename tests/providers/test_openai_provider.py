"""OpenAIProvider against a real local HTTP server speaking OpenAI's wire format."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from roost.config import ModelSettings
from roost.core.errors import ConfigError, ProviderError
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
from roost.providers.openai_compat import OpenAIProvider
from roost.providers.registry import ProviderRegistry
from tests.conftest import make_settings
from tests.upstreams import ToolCall, Upstream, openai_upstream, unused_url

HI = ChatRequest([ChatMessage("user", "hi")])
WEATHER = ToolSpec(
    "get_weather",
    "The weather in a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    with openai_upstream() as up:
        yield up


@pytest.fixture
async def provider(upstream: Upstream) -> AsyncIterator[OpenAIProvider]:
    provider = OpenAIProvider("gpt", model="gpt-test", base_url=upstream.base_url, timeout=2.0)
    yield provider
    await provider.close()


async def collect(provider: OpenAIProvider, request: ChatRequest = HI) -> list[ProviderEvent]:
    return [event async for event in provider.stream(request)]


async def failure(provider: OpenAIProvider, request: ChatRequest = HI) -> str:
    with pytest.raises(ProviderError) as caught:
        await collect(provider, request)
    message = caught.value.message
    assert "model 'gpt' (upstream 'gpt-test')" in message
    return message


async def test_streams_text_then_usage_then_finish(
    provider: OpenAIProvider, upstream: Upstream
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
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer not-needed"
    assert sent.body == {
        "model": "gpt-test",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }


async def test_upstream_finish_reason_is_passed_on(
    provider: OpenAIProvider, upstream: Upstream
) -> None:
    upstream.set(finish_reason="length")
    assert (await collect(provider))[-1] == Finish("length")


async def test_messages_tools_format_and_options_are_mapped(
    provider: OpenAIProvider, upstream: Upstream
) -> None:
    call = ToolCallChunk("call_1", "get_weather", {"city": "Paris"})
    request = ChatRequest(
        [
            ChatMessage("system", "Be brief."),
            ChatMessage("user", "Weather in Paris?"),
            ChatMessage("assistant", "", tool_calls=(call,)),
            ChatMessage("tool", '{"sky": "clear"}', tool_call_id="call_1", name="get_weather"),
        ],
        options=GenerationOptions(
            temperature=0.2,
            top_p=0.5,
            top_k=5,
            repeat_penalty=1.3,
            seed=7,
            stop=["END"],
            presence_penalty=0.4,
        ),
        tools=(WEATHER,),
        tool_choice=ToolChoice("tool", "get_weather"),
        response_format=ResponseFormat("json_schema", {"type": "object"}, "weather"),
    )
    await collect(provider, request)
    body = upstream.last.body
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"sky": "clear"}'},
    ]
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "The weather in a city",
                "parameters": WEATHER.parameters,
            },
        }
    ]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "weather", "schema": {"type": "object"}},
    }
    assert (body["temperature"], body["top_p"], body["seed"]) == (0.2, 0.5, 7)
    assert body["presence_penalty"] == 0.4
    assert "frequency_penalty" not in body
    assert body["stop"] == ["END"]
    # Not OpenAI parameters: strict servers would refuse the request.
    assert "top_k" not in body
    assert "repeat_penalty" not in body
    assert "max_tokens" not in body


@pytest.mark.parametrize(
    ("choice", "sent"),
    [
        (ToolChoice("auto"), "auto"),
        (ToolChoice("none"), "none"),
        (ToolChoice("required"), "required"),
    ],
)
async def test_tool_choice_modes(
    provider: OpenAIProvider, upstream: Upstream, choice: ToolChoice, sent: str
) -> None:
    await collect(provider, ChatRequest(HI.messages, tools=(WEATHER,), tool_choice=choice))
    assert upstream.last.body["tool_choice"] == sent


async def test_no_tools_means_no_tool_choice_and_json_object_format(
    provider: OpenAIProvider, upstream: Upstream
) -> None:
    request = ChatRequest(
        HI.messages,
        tool_choice=ToolChoice("required"),
        response_format=ResponseFormat("json_object"),
    )
    await collect(provider, request)
    body = upstream.last.body
    assert "tools" not in body
    assert "tool_choice" not in body
    assert "stop" not in body
    assert body["response_format"] == {"type": "json_object"}


async def test_configured_sampling_is_the_default_and_requests_override_it(
    upstream: Upstream,
) -> None:
    settings = make_settings(Path("/nonexistent"))
    model = ModelSettings(
        provider="openai",
        model="gpt-test",
        base_url=upstream.base_url,
        temperature=0.3,
        max_tokens=50,
    )
    provider = OpenAIProvider.from_settings("gpt", model, settings)
    try:
        await collect(provider)
        body = upstream.last.body
        assert (body["temperature"], body["max_tokens"]) == (0.3, 50)
        # Only settings the config sets are sent: the built-in defaults suit the
        # embedded model, not a remote one.
        assert "top_p" not in body
        await collect(provider, ChatRequest(HI.messages, GenerationOptions(temperature=1.1)))
        assert upstream.last.body["temperature"] == 1.1
    finally:
        await provider.close()


async def test_streamed_tool_calls_are_reassembled(
    provider: OpenAIProvider, upstream: Upstream
) -> None:
    upstream.set(
        reply="",
        tool_calls=[
            ToolCall("get_weather", {"city": "Paris", "unit": "celsius"}, id="call_a"),
            ToolCall("get_time", {"zone": "Europe/Paris"}),
        ],
    )
    events = await collect(provider, ChatRequest(HI.messages, tools=(WEATHER,)))
    assert events[:2] == [
        ToolCallChunk("call_a", "get_weather", {"city": "Paris", "unit": "celsius"}),
        ToolCallChunk("call_1_roosttest", "get_time", {"zone": "Europe/Paris"}),
    ]
    assert events[-1] == Finish("tool_calls")


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
async def test_reasoning_deltas_become_reasoning_chunks(
    provider: OpenAIProvider, upstream: Upstream, field: str
) -> None:
    upstream.set(reasoning="let me think", reply="Yes", reasoning_field=field)
    events = await collect(provider)
    assert events[:4] == [
        ReasoningChunk("let"),
        ReasoningChunk(" me"),
        ReasoningChunk(" think"),
        TextChunk("Yes"),
    ]


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("http_500", "HTTP 500: The server had an error while processing your request."),
        ("http_401", "HTTP 401: Incorrect API key provided: sk-wrong."),
        ("cut", "upstream stream ended early: "),
        ("no_finish", "upstream stream ended early (no finish_reason)"),
        ("error_event", "upstream stream ended early with an error: The model is overloaded."),
    ],
)
async def test_upstream_failures_become_provider_errors(
    provider: OpenAIProvider, upstream: Upstream, fault: str, expected: str
) -> None:
    upstream.set(reply="one two three four five six", fault=fault)
    assert expected in await failure(provider)


async def test_a_cut_stream_keeps_what_came_before(
    provider: OpenAIProvider, upstream: Upstream
) -> None:
    upstream.set(reply="one two three four five six", fault="cut")  # cut after "four"
    seen: list[ProviderEvent] = []

    async def consume() -> None:
        async for event in provider.stream(HI):
            seen.append(event)

    with pytest.raises(ProviderError):
        await consume()
    assert seen == [TextChunk("one"), TextChunk(" two"), TextChunk(" three"), TextChunk(" four")]


async def test_invalid_tool_arguments_name_the_tool(
    provider: OpenAIProvider, upstream: Upstream
) -> None:
    upstream.set(tool_calls=[ToolCall("get_weather", {"city": "Paris"})], fault="bad_tool_json")
    message = await failure(provider, ChatRequest(HI.messages, tools=(WEATHER,)))
    assert "tool 'get_weather' with invalid JSON arguments" in message


async def test_a_silent_upstream_times_out(upstream: Upstream) -> None:
    provider = OpenAIProvider("gpt", model="gpt-test", base_url=upstream.base_url, timeout=0.3)
    try:
        upstream.set(fault="slow", delay=5)
        start = time.monotonic()
        message = await failure(provider)
        assert f"no answer from {upstream.base_url} within 0.3 s" in message
        upstream.set(fault="stall", delay=5)
        assert "upstream stream ended early: no data for 0.3 s" in await failure(provider)
        assert time.monotonic() - start < 3
    finally:
        await provider.close()


async def test_connection_refused_is_reported() -> None:
    url = unused_url()
    provider = OpenAIProvider("gpt", model="gpt-test", base_url=url)
    try:
        assert f"connection refused to {url}" in await failure(provider)
        assert await provider.probe() == f"connection refused to {url}"
        with pytest.raises(ProviderError, match="connection refused"):
            await provider.embed(["x"])
    finally:
        await provider.close()


async def test_the_httpx_transport_reports_failures_alike(
    upstream: Upstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without aiohttp installed the SDK's default transport is used: same messages."""
    monkeypatch.setitem(sys.modules, "aiohttp", None)  # import aiohttp -> ImportError
    provider = OpenAIProvider("gpt", model="gpt-test", base_url=upstream.base_url, timeout=0.3)
    refused = OpenAIProvider("gpt", model="gpt-test", base_url=unused_url())
    try:
        assert (await collect(provider))[0] == TextChunk("Hello")
        upstream.set(reply="one two three four five six", fault="cut")
        # h11's words: this really went through httpx, not aiohttp
        assert "upstream stream ended early: peer closed connection" in await failure(provider)
        upstream.set(fault="stall", delay=5)
        assert "upstream stream ended early: no data for 0.3 s" in await failure(provider)
        upstream.set(fault="slow", delay=5)
        assert "within 0.3 s" in await failure(provider)
        assert "connection refused to http://127.0.0.1:" in await failure(refused)
    finally:
        await provider.close()
        await refused.close()


async def test_closing_the_stream_early_hangs_up_on_the_upstream(
    provider: OpenAIProvider, upstream: Upstream
) -> None:
    upstream.set(reply=" ".join(["word"] * 200), chunk_delay=0.02)
    stream = provider.stream(HI)
    assert await anext(stream) == TextChunk("word")
    await stream.aclose()
    for _ in range(100):  # the upstream notices at its next pause
        if upstream.abandoned:
            break
        await asyncio.sleep(0.02)
    assert upstream.abandoned == 1


async def test_the_connection_is_reused_after_a_complete_stream(
    provider: OpenAIProvider, upstream: Upstream
) -> None:
    for _ in range(3):
        await collect(provider)
    assert len({r.client_port for r in upstream.requests}) == 1


async def test_a_gzip_encoded_stream_is_read_as_it_arrives(
    provider: OpenAIProvider, upstream: Upstream
) -> None:
    """A proxy in front of the model server may gzip the event stream."""
    upstream.set(reply="Packed words arrive whole", chunk_delay=0.01, gzip=True)
    events = await collect(provider)
    assert [e.text for e in events if isinstance(e, TextChunk)] == [
        "Packed",
        " words",
        " arrive",
        " whole",
    ]
    assert events[-1] == Finish("stop")


async def test_count_tokens_estimates_three_characters_a_token(
    provider: OpenAIProvider,
) -> None:
    messages = [ChatMessage("system", "a" * 30), ChatMessage("user", "b" * 10)]
    assert await provider.count_tokens(messages) == (10 + 4) + (3 + 4)
    assert provider.context_window == 8192


async def test_embed(provider: OpenAIProvider, upstream: Upstream) -> None:
    first = await provider.embed(["the cat sat", "a dog"])
    assert len(first.vectors) == 2
    assert all(len(v) == 8 for v in first.vectors)
    assert first.vectors[0] != first.vectors[1]
    assert first.prompt_tokens == 5
    assert upstream.last.path == "/v1/embeddings"
    assert upstream.last.body == {
        "model": "gpt-test",
        "input": ["the cat sat", "a dog"],
        "encoding_format": "float",
    }
    again = await provider.embed(["a dog"])
    assert again.vectors == [first.vectors[1]]
    upstream.set(fault="http_500")
    with pytest.raises(ProviderError, match="HTTP 500"):
        await provider.embed(["x"])


async def test_probe(provider: OpenAIProvider, upstream: Upstream) -> None:
    assert await provider.probe() is None
    assert upstream.last.path == "/v1/models"
    upstream.set(fault="http_401")
    assert await provider.probe() == "HTTP 401: Incorrect API key provided: sk-wrong."


async def test_from_settings(upstream: Upstream, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = make_settings(Path("/nonexistent"))
    with pytest.raises(ConfigError, match=r"\[models.gpt\] provider 'openai' needs `model`"):
        OpenAIProvider.from_settings("gpt", ModelSettings(provider="openai"), settings)
    model = ModelSettings(
        provider="openai",
        model="gpt-test",
        base_url=upstream.base_url,
        api_key_env="ROOST_TEST_OPENAI_KEY",
        context_window=32000,
    )
    with pytest.raises(ConfigError, match="ROOST_TEST_OPENAI_KEY"):
        OpenAIProvider.from_settings("gpt", model, settings)
    monkeypatch.setenv("ROOST_TEST_OPENAI_KEY", "sk-from-env")
    provider = OpenAIProvider.from_settings("gpt", model, settings)
    try:
        assert provider.context_window == 32000
        await collect(provider)
        assert upstream.last.headers["authorization"] == "Bearer sk-from-env"
    finally:
        await provider.close()


async def test_the_registry_builds_openai_models(home: Path, upstream: Upstream) -> None:
    config = {"provider": "openai", "model": "gpt-test", "base_url": upstream.base_url}
    lines = [f"{key} = {json.dumps(value)}" for key, value in config.items()]
    (home / "config.toml").write_text("[models.remote]\n" + "\n".join(lines) + "\n")
    registry = ProviderRegistry(make_settings(home))
    try:
        _, provider = registry.get("remote")
        assert isinstance(provider, OpenAIProvider)
        assert (await collect(provider))[0] == TextChunk("Hello")
    finally:
        await registry.close()


def test_importing_the_providers_does_not_import_the_sdks() -> None:
    code = (
        "import sys; from roost.providers import registry; registry._builtin_kinds(); "
        "print(sorted(m for m in ('openai', 'anthropic') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("fault", [None, "http_500"])
async def test_the_first_request_after_an_upstream_restart_is_answered(fault: str | None) -> None:
    """The pooled keep-alive connection died with the old upstream process; the request
    must go out again on a new connection instead of failing with "Server disconnected"."""
    with socket_port() as port:
        provider = OpenAIProvider("gpt", model="gpt-test", base_url=f"http://127.0.0.1:{port}/v1")
    try:
        with openai_upstream(port=port, fault=fault), contextlib.suppress(ProviderError):
            await collect(provider)
        with openai_upstream(port=port) as restarted:
            assert TextChunk("Hello") in await collect(provider)
            assert len(restarted.requests) == 1
    finally:
        await provider.close()


@contextlib.contextmanager
def socket_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])
