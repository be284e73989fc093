"""/v1 with the official openai SDK as the client, in process, on the scripted model."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import openai
import pytest

from roost.config import ModelSettings, Settings
from roost.core.errors import ProviderError
from roost.providers.base import Finish, TextChunk, ToolCallChunk, UsageChunk
from roost.providers.scripted import reply
from tests.conftest import ADMIN_PASSWORD, Env, running, sse_events

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def sdk(env: Env) -> AsyncIterator[openai.AsyncOpenAI]:
    http = httpx.AsyncClient(transport=env.client._transport)  # the in-process app
    client = openai.AsyncOpenAI(
        base_url="http://127.0.0.1:31327/v1",
        api_key=ADMIN_PASSWORD,
        http_client=http,
        max_retries=0,  # the SDK retries 5xx by default; these tests look at each answer
    )
    async with client:
        yield client


async def test_models_list_and_get(env: Env, sdk: openai.AsyncOpenAI) -> None:
    page = await sdk.models.list()
    names = [m.id for m in page.data]
    assert "scripted" in names
    assert "smollm2" in names
    model = await sdk.models.retrieve("smollm2")
    assert model.id == "smollm2"
    assert model.object == "model"
    assert model.owned_by == "roost"
    with pytest.raises(openai.NotFoundError) as caught:
        await sdk.models.retrieve("nope")
    assert caught.value.body["code"] == "model_not_found"  # type: ignore[index]


async def test_completion_not_streamed(env: Env, sdk: openai.AsyncOpenAI) -> None:
    env.scripts.queue.append(reply("Paris is the capital.", prompt_tokens=12))
    result = await sdk.chat.completions.create(
        model="scripted",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Capital of France?"}]},
        ],
        max_completion_tokens=50,
        temperature=0.3,
        stop=["\n\n"],
        seed=7,
    )
    assert result.object == "chat.completion"
    assert result.id.startswith("chatcmpl-")
    assert result.choices[0].message.content == "Paris is the capital."
    assert result.choices[0].finish_reason == "stop"
    assert result.usage is not None
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (12, 4)
    sent = env.provider.requests[-1]
    assert [(m.role, m.content) for m in sent.messages] == [
        ("system", "Be brief."),
        ("user", "Capital of France?"),
    ]
    assert sent.options.max_tokens == 50
    assert sent.options.temperature == 0.3
    assert sent.options.stop == ["\n\n"]
    assert sent.options.seed == 7


async def test_stateless_stores_nothing(env: Env, sdk: openai.AsyncOpenAI) -> None:
    await sdk.chat.completions.create(
        model="scripted", messages=[{"role": "user", "content": "hi"}]
    )
    sessions = await env.client.get("/api/sessions")
    assert sessions.json()["total"] == 0


async def test_metadata_session_id_stores_the_exchange(env: Env, sdk: openai.AsyncOpenAI) -> None:
    result = await sdk.chat.completions.create(
        model="scripted",
        messages=[{"role": "user", "content": "remember me"}],
        metadata={"session_id": "my-notes"},
    )
    assert result.choices[0].message.content == "you said: remember me"
    stored = (await env.client.get("/api/sessions/my-notes")).json()
    assert [(m["role"], m["content"]) for m in stored["messages"]] == [
        ("user", "remember me"),
        ("assistant", "you said: remember me"),
    ]


async def test_stream_with_usage(env: Env, sdk: openai.AsyncOpenAI) -> None:
    env.scripts.queue.append(reply("one two three", prompt_tokens=5))
    stream = await sdk.chat.completions.create(
        model="scripted",
        messages=[{"role": "user", "content": "count"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three"
    assert all(c.usage is None for c in chunks[:-1])
    finish = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finish) == 1
    assert finish[0].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == 8
    assert len({c.id for c in chunks}) == 1


async def test_raw_stream_frames(env: Env) -> None:
    body = {"model": "scripted", "messages": [{"role": "user", "content": "x"}], "stream": True}
    response = await env.client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    assert events[-1] == "[DONE]"
    assert all(e["object"] == "chat.completion.chunk" for e in events[:-1])
    assert "usage" not in events[1]  # only present when include_usage asked for it


async def test_tool_calls_pass_through(env: Env, sdk: openai.AsyncOpenAI) -> None:
    env.scripts.queue.append(
        [
            ToolCallChunk("call_1", "get_weather", {"city": "Oslo"}),
            UsageChunk(9, 3),
            Finish("tool_calls"),
        ]
    )
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather for a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    result = await sdk.chat.completions.create(
        model="scripted",
        messages=[{"role": "user", "content": "weather in Oslo?"}],
        tools=tools,  # type: ignore[arg-type]
        tool_choice="required",
    )
    choice = result.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    call = choice.message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == {"city": "Oslo"}  # type: ignore[union-attr]
    sent = env.provider.requests[-1]
    assert sent.tools[0].name == "get_weather"
    assert sent.tool_choice.mode == "required"

    # The client answers the call; the tool message reaches the model with its name.
    env.scripts.queue.append(reply("It is sunny."))
    follow = await sdk.chat.completions.create(
        model="scripted",
        messages=[
            {"role": "user", "content": "weather in Oslo?"},
            choice.message.model_dump(exclude_none=True),  # type: ignore[list-item]
            {"role": "tool", "tool_call_id": call.id, "content": "sunny, 20C"},
        ],
        tools=tools,  # type: ignore[arg-type]
    )
    assert follow.choices[0].message.content == "It is sunny."
    tool_message = env.provider.requests[-1].messages[-1]
    assert (tool_message.role, tool_message.name, tool_message.content) == (
        "tool",
        "get_weather",
        "sunny, 20C",
    )
    assert env.provider.requests[-1].messages[1].tool_calls[0].arguments == {"city": "Oslo"}


async def test_streamed_tool_call_chunk(env: Env) -> None:
    env.scripts.queue.append([ToolCallChunk("call_9", "f", {"a": 1}), Finish("tool_calls")])
    body = {
        "model": "scripted",
        "messages": [{"role": "user", "content": "x"}],
        "stream": True,
        "tools": [{"type": "function", "function": {"name": "f"}}],
    }
    events = sse_events((await env.client.post("/v1/chat/completions", json=body)).text)
    call = events[1]["choices"][0]["delta"]["tool_calls"][0]
    assert call == {
        "index": 0,
        "id": "call_9",
        "type": "function",
        "function": {"name": "f", "arguments": '{"a": 1}'},
    }
    assert events[2]["choices"][0]["finish_reason"] == "tool_calls"


async def test_response_format_reaches_the_provider(env: Env, sdk: openai.AsyncOpenAI) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    env.scripts.queue.append(reply('{"n": 3}'))
    result = await sdk.chat.completions.create(
        model="scripted",
        messages=[{"role": "user", "content": "a number"}],
        response_format={"type": "json_schema", "json_schema": {"name": "num", "schema": schema}},
    )
    assert json.loads(result.choices[0].message.content or "") == {"n": 3}
    fmt = env.provider.requests[-1].response_format
    assert fmt is not None
    assert fmt.type == "json_schema"
    assert fmt.schema == schema


async def test_provider_failure_before_output_is_502(env: Env, sdk: openai.AsyncOpenAI) -> None:
    env.scripts.queue.append([ProviderError("upstream refused the connection")])
    with pytest.raises(openai.APIStatusError) as caught:
        await sdk.chat.completions.create(
            model="scripted", messages=[{"role": "user", "content": "x"}], stream=True
        )
    assert caught.value.status_code == 502
    assert caught.value.body["type"] == "upstream_error"  # type: ignore[index]
    assert "refused" in caught.value.message


async def test_failure_mid_stream_is_an_error_chunk(env: Env, sdk: openai.AsyncOpenAI) -> None:
    env.scripts.queue.append([TextChunk("half"), ProviderError("upstream stream ended early")])
    stream = await sdk.chat.completions.create(
        model="scripted", messages=[{"role": "user", "content": "x"}], stream=True
    )
    seen: list[str] = []

    async def read() -> None:
        async for chunk in stream:
            seen.append(chunk.choices[0].delta.content or "")

    with pytest.raises(openai.APIError, match="ended early"):
        await read()
    assert "half" in seen


async def test_wrong_key_and_unknown_model(env: Env) -> None:
    http = httpx.AsyncClient(transport=env.client._transport)
    async with openai.AsyncOpenAI(
        base_url="http://127.0.0.1:31327/v1", api_key="roost_wrong", http_client=http
    ) as bad:
        with pytest.raises(openai.AuthenticationError) as caught:
            await bad.models.list()
    assert caught.value.body["type"] == "authentication_error"  # type: ignore[index]
    response = await env.client.post(
        "/v1/chat/completions",
        json={"model": "gpt-99", "messages": [{"role": "user", "content": "x"}]},
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"


async def test_in_process_models_get_the_default_system_prompt(settings: Settings) -> None:
    # A llama.cpp-kind model name served by the scripted provider, to see the prompt.
    settings.models["local"] = ModelSettings(provider="llamacpp")
    settings.chat.system_prompt = "Be brief."
    async with running(settings) as env:
        env.services.providers.install("local", env.provider)
        question = {"role": "user", "content": "hi"}
        for model, sent, expected in [
            ("local", [question], ["system", "user"]),
            ("local", [{"role": "system", "content": "Own."}, question], ["system", "user"]),
            ("scripted", [question], ["user"]),  # not a llama.cpp model: as sent
        ]:
            response = await env.client.post(
                "/v1/chat/completions", json={"model": model, "messages": sent}
            )
            assert response.status_code == 200, response.text
            received = env.provider.requests[-1].messages
            assert [m.role for m in received] == expected
            if len(sent) == 1 and model == "local":
                assert received[0].content == "Be brief."
            elif model == "local":
                assert received[0].content == "Own."
