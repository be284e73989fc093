"""Ollama's /api/chat and /api/generate with the ollama client as the client, in process,
on the scripted model: streaming and not, tools, format, options, think, errors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import ollama
import pytest

from roost.core.errors import ProviderError
from roost.providers.base import Finish, TextChunk, ToolCallChunk, UsageChunk
from roost.providers.scripted import reply
from tests.conftest import ADMIN_PASSWORD, Env

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def client(env: Env) -> AsyncIterator[ollama.AsyncClient]:
    return ollama.AsyncClient(
        host="http://127.0.0.1:31327/ollama",
        headers={"Authorization": f"Bearer {ADMIN_PASSWORD}"},
        transport=env.client._transport,  # the in-process app
    )


async def test_chat_not_streamed(env: Env, client: ollama.AsyncClient) -> None:
    env.scripts.queue.append(reply("Paris is the capital.", prompt_tokens=12))
    result = await client.chat(
        model="scripted:latest",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Capital of France?"},
        ],
        options={
            "temperature": 0.3,
            "num_predict": 50,
            "stop": ["\n\n"],
            "seed": 7,
            "top_k": 20,
            "repeat_penalty": 1.1,
            "min_p": 0.05,
            "num_ctx": 4096,
            "mirostat": 1,
        },  # the last three: accepted, not mapped
    )
    assert result.model == "scripted:latest"  # the name the client sent
    assert result.message.role == "assistant"
    assert result.message.content == "Paris is the capital."
    assert result.done is True
    assert result.done_reason == "stop"
    assert (result.prompt_eval_count, result.eval_count) == (12, 4)
    assert result.total_duration is not None
    assert result.total_duration > 0
    assert result.eval_duration is not None
    assert result.eval_duration >= 0
    assert result.created_at is not None
    assert result.created_at.endswith("Z")
    sent = env.provider.requests[-1]
    assert [(m.role, m.content) for m in sent.messages] == [
        ("system", "Be brief."),
        ("user", "Capital of France?"),
    ]
    options = sent.options
    assert (options.temperature, options.max_tokens, options.stop, options.seed) == (
        0.3,
        50,
        ["\n\n"],
        7,
    )
    assert (options.top_k, options.repeat_penalty) == (20, 1.1)


async def test_chat_streamed(env: Env, client: ollama.AsyncClient) -> None:
    env.scripts.queue.append(reply("one two three", prompt_tokens=5))
    parts = [
        part
        async for part in await client.chat(
            model="scripted", messages=[{"role": "user", "content": "count"}], stream=True
        )
    ]
    assert "".join(p.message.content or "" for p in parts) == "one two three"
    assert [p.done for p in parts] == [False, False, False, True]
    last = parts[-1]
    assert last.done_reason == "stop"
    assert last.message.content == ""
    assert (last.prompt_eval_count, last.eval_count) == (5, 3)


async def test_stream_lines_are_ndjson(env: Env) -> None:
    env.scripts.queue.append(reply("hi there"))
    response = await env.client.post(
        "/ollama/api/chat",
        json={"model": "scripted", "messages": [{"role": "user", "content": "x"}]},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert lines[0]["message"] == {"role": "assistant", "content": "hi"}
    assert lines[-1]["done"] is True
    for key in ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration"):
        assert isinstance(lines[-1][key], int)


async def test_length_is_the_done_reason(env: Env, client: ollama.AsyncClient) -> None:
    env.scripts.queue.append([TextChunk("cut"), UsageChunk(3, 1), Finish("length")])
    result = await client.chat(model="scripted", messages=[{"role": "user", "content": "x"}])
    assert result.done_reason == "length"


TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather in a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


async def test_tool_calls(env: Env, client: ollama.AsyncClient) -> None:
    env.scripts.queue.append(
        [ToolCallChunk("call_1", "get_weather", {"city": "Oslo"}), Finish("tool_calls")]
    )
    result = await client.chat(
        model="scripted", messages=[{"role": "user", "content": "Weather in Oslo?"}], tools=TOOLS
    )
    assert result.done_reason == "stop"  # Ollama's, even when a tool was called
    calls = result.message.tool_calls or []
    assert [(c.function.name, dict(c.function.arguments)) for c in calls] == [
        ("get_weather", {"city": "Oslo"})
    ]
    sent = env.provider.requests[-1]
    assert sent.tools[0].name == "get_weather"
    assert sent.tools[0].parameters["required"] == ["city"]
    # The client answers by the tool's name; the result reaches the model for that call.
    env.scripts.queue.append(reply("It is sunny."))
    answer = await client.chat(
        model="scripted",
        messages=[
            {"role": "user", "content": "Weather in Oslo?"},
            {"role": "assistant", "content": "", "tool_calls": [c.model_dump() for c in calls]},
            {"role": "tool", "content": "sunny, 20C", "tool_name": "get_weather"},
        ],
        tools=TOOLS,
    )
    assert answer.message.content == "It is sunny."
    history = env.provider.requests[-1].messages
    assert history[1].tool_calls[0].arguments == {"city": "Oslo"}
    assert (history[2].role, history[2].name, history[2].content) == (
        "tool",
        "get_weather",
        "sunny, 20C",
    )
    assert history[2].tool_call_id == history[1].tool_calls[0].id


async def test_streamed_tool_call_is_a_line_before_done(env: Env) -> None:
    env.scripts.queue.append(
        [ToolCallChunk("call_9", "get_weather", {"city": "Rome"}), Finish("tool_calls")]
    )
    response = await env.client.post(
        "/ollama/api/chat",
        json={
            "model": "scripted",
            "messages": [{"role": "user", "content": "x"}],
            "tools": TOOLS,
        },
    )
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert lines[0]["done"] is False
    call = lines[0]["message"]["tool_calls"][0]["function"]
    assert call["name"] == "get_weather"
    assert call["arguments"] == {"city": "Rome"}  # an object, not a string
    assert lines[-1]["done"] is True
    assert lines[-1]["done_reason"] == "stop"


async def test_format_json_and_schema(env: Env, client: ollama.AsyncClient) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    env.scripts.queue.append(reply('{"n": 3}'))
    result = await client.chat(
        model="scripted", messages=[{"role": "user", "content": "x"}], format=schema
    )
    assert json.loads(result.message.content or "") == {"n": 3}
    sent = env.provider.requests[-1].response_format
    assert sent is not None
    assert (sent.type, sent.schema) == ("json_schema", schema)
    await client.chat(model="scripted", messages=[{"role": "user", "content": "x"}], format="json")
    sent = env.provider.requests[-1].response_format
    assert sent is not None
    assert sent.type == "json_object"


async def test_generate(env: Env, client: ollama.AsyncClient) -> None:
    env.scripts.queue.append(reply("The sky is blue.", prompt_tokens=7))
    result = await client.generate(model="scripted", prompt="Why?", system="Be short.")
    assert result.response == "The sky is blue."
    assert result.done
    assert result.done_reason == "stop"
    assert (result.prompt_eval_count, result.eval_count) == (7, 4)
    sent = env.provider.requests[-1]
    assert [(m.role, m.content) for m in sent.messages] == [
        ("system", "Be short."),
        ("user", "Why?"),
    ]
    env.scripts.queue.append(reply("a b"))
    parts = [p async for p in await client.generate(model="scripted", prompt="x", stream=True)]
    assert "".join(p.response for p in parts) == "a b"
    assert parts[-1].done


async def test_think_on_a_model_that_cannot(env: Env, client: ollama.AsyncClient) -> None:
    with pytest.raises(ollama.ResponseError) as caught:
        await client.chat(model="scripted", messages=[{"role": "user", "content": "x"}], think=True)
    assert caught.value.status_code == 400
    assert caught.value.error == '"scripted" does not support thinking'
    # think: false is what every model can do.
    result = await client.chat(
        model="scripted", messages=[{"role": "user", "content": "x"}], think=False
    )
    assert result.done


async def test_unknown_model_is_404(client: ollama.AsyncClient) -> None:
    for call in (
        client.chat(model="nope", messages=[{"role": "user", "content": "x"}]),
        client.generate(model="nope:7b", prompt="x"),
    ):
        with pytest.raises(ollama.ResponseError) as caught:
            await call
        assert caught.value.status_code == 404
    assert caught.value.error == "model 'nope:7b' not found"


async def test_failure_before_the_stream_is_the_status(env: Env) -> None:
    env.scripts.queue.append([ProviderError("upstream down")])
    response = await env.client.post(
        "/ollama/api/chat",
        json={"model": "scripted", "messages": [{"role": "user", "content": "x"}]},
    )
    assert response.status_code == 502
    assert response.json() == {"error": "upstream down"}


async def test_failure_mid_stream_is_an_error_line(env: Env, client: ollama.AsyncClient) -> None:
    env.scripts.queue.append([TextChunk("partial"), ProviderError("runner died")])
    response = await env.client.post(
        "/ollama/api/chat",
        json={"model": "scripted", "messages": [{"role": "user", "content": "x"}]},
    )
    assert response.status_code == 200
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert lines[0]["message"]["content"] == "partial"
    assert lines[-1] == {"error": "runner died"}
    env.scripts.queue.append([TextChunk("partial"), ProviderError("runner died")])
    with pytest.raises(ollama.ResponseError) as caught:  # the client raises on that line
        async for _ in await client.chat(
            model="scripted", messages=[{"role": "user", "content": "x"}], stream=True
        ):
            pass
    assert caught.value.error == "runner died"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "missing request body"),
        (b"{not json", "request body is not valid JSON"),
        (b'{"messages": []}', "Missing required parameter: model"),
        (b'{"model": "scripted", "messages": [{"role": "robot", "content": "x"}]}', "role"),
        (b'{"model": "scripted", "messages": "hi"}', "messages"),
        (
            b'{"model": "scripted", "options": {"temperature": "hot"}, '
            b'"messages": [{"role": "user", "content": "x"}]}',
            "temperature",
        ),
        (
            b'{"model": "scripted", "format": "yaml", '
            b'"messages": [{"role": "user", "content": "x"}]}',
            "format",
        ),
        (
            b'{"model": "scripted", "keep_alive": "forever", '
            b'"messages": [{"role": "user", "content": "x"}]}',
            "keep_alive",
        ),
        (
            b'{"model": "scripted", "messages": [{"role": "user", "content": "x", '
            b'"images": ["aGk="]}]}',
            "does not support images",
        ),
        (
            b'{"model": "scripted", "stream": "yes", '
            b'"messages": [{"role": "user", "content": "x"}]}',
            "stream",
        ),
    ],
)
async def test_bad_chat_bodies_are_400(env: Env, body: bytes, message: str) -> None:
    response = await env.client.post("/ollama/api/chat", content=body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert list(error) == ["error"]
    assert message in error["error"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"suffix": "end"}, "does not support insert"),
        ({"raw": True}, "raw mode"),
        ({"context": [1, 2, 3]}, "context"),
        ({"template": "{{ .Prompt }}"}, "template"),
        ({"logprobs": True}, "logprobs"),
    ],
)
async def test_unsupported_generate_fields_are_400(
    env: Env, fields: dict[str, object], message: str
) -> None:
    response = await env.client.post(
        "/ollama/api/generate", json={"model": "scripted", "prompt": "x", **fields}
    )
    assert response.status_code == 400
    assert message in response.json()["error"]


async def test_too_many_messages_is_400(env: Env) -> None:
    limit = env.services.settings.limits.max_messages
    messages = [{"role": "user", "content": "x"}] * (limit + 1)
    response = await env.client.post(
        "/ollama/api/chat", json={"model": "scripted", "messages": messages}
    )
    assert response.status_code == 400
    assert "at most" in response.json()["error"]


async def test_empty_messages_load_and_unload(env: Env) -> None:
    body = {"model": "scripted", "messages": []}
    loaded = (await env.client.post("/ollama/api/chat", json=body)).json()
    assert (loaded["done"], loaded["done_reason"]) == (True, "load")
    unloaded = await env.client.post("/ollama/api/chat", json={**body, "keep_alive": 0})
    assert unloaded.json()["done_reason"] == "unload"
    generated = await env.client.post(
        "/ollama/api/generate", json={"model": "scripted", "prompt": "", "keep_alive": 0}
    )
    assert (generated.json()["response"], generated.json()["done_reason"]) == ("", "unload")
    assert env.provider.requests == []  # nothing was generated


async def test_wrong_key_is_401(env: Env) -> None:
    client = ollama.AsyncClient(
        host="http://127.0.0.1:31327/ollama",
        headers={"Authorization": "Bearer wrong-key"},
        transport=env.client._transport,
    )
    with pytest.raises(ollama.ResponseError) as caught:
        await client.chat(model="scripted", messages=[{"role": "user", "content": "x"}])
    assert caught.value.status_code == 401
    no_key = httpx.AsyncClient(transport=env.client._transport, base_url="http://127.0.0.1:31327")
    async with no_key:
        response = await no_key.get("/ollama/api/tags")
    assert response.status_code == 401
    assert "error" in response.json()
