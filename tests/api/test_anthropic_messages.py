"""POST /v1/messages with the official anthropic SDK as the client, in process, on the
scripted model: answers, system prompts, tools, the event stream."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx2
import pytest

from roost.providers.base import Finish, ReasoningChunk, TextChunk, ToolCallChunk, UsageChunk
from roost.providers.scripted import reply
from tests.conftest import ADMIN_PASSWORD, Env

pytestmark = pytest.mark.asyncio
BASE = "http://127.0.0.1:31327"
WEATHER = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


@pytest.fixture
async def sdk(env: Env) -> AsyncIterator[anthropic.AsyncAnthropic]:
    # The SDK brings its own HTTP client package (httpx2): the in-process app through it.
    http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=env.app))
    client = anthropic.AsyncAnthropic(
        base_url=BASE, api_key=ADMIN_PASSWORD, http_client=http, max_retries=0
    )
    async with client:
        yield client


def sse(body: str) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) of each event of an SSE body."""
    found: list[tuple[str, dict[str, Any]]] = []
    for block in body.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in lines:
            found.append((lines["event"], json.loads(lines["data"])))
    return found


async def test_plain_answer_and_what_the_model_got(env: Env, sdk: anthropic.AsyncAnthropic) -> None:
    env.scripts.queue.append(reply("Paris is the capital.", prompt_tokens=12))
    message = await sdk.messages.create(
        model="scripted",
        max_tokens=50,
        system="Be brief.",
        messages=[{"role": "user", "content": "Capital of France?"}],
        stop_sequences=["\n\n", "END"],
        # This SDK no longer has these arguments; older ones and other clients send them.
        extra_body={"temperature": 0.3, "top_p": 0.9, "top_k": 20},
        metadata={"user_id": "someone"},
    )
    assert message.type == "message"
    assert message.role == "assistant"
    assert message.id.startswith("msg_")
    assert message.model == "scripted"
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].text == "Paris is the capital."  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn"
    assert message.stop_sequence is None
    assert (message.usage.input_tokens, message.usage.output_tokens) == (12, 4)
    sent = env.provider.requests[-1]
    assert [(m.role, m.content) for m in sent.messages] == [
        ("system", "Be brief."),
        ("user", "Capital of France?"),
    ]
    options = sent.options
    assert (options.max_tokens, options.temperature, options.top_p, options.top_k) == (
        50,
        0.3,
        0.9,
        20,
    )
    assert options.stop == ["\n\n", "END"]


async def test_system_blocks_and_a_multi_turn_history(
    env: Env, sdk: anthropic.AsyncAnthropic
) -> None:
    message = await sdk.messages.create(
        model="scripted",
        max_tokens=20,
        system=[{"type": "text", "text": "You are terse."}, {"type": "text", "text": "No lists."}],
        messages=[
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [{"type": "text", "text": "Hello."}]},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is 2+2?"},
                    {
                        "type": "text",
                        "text": "Answer in words.",
                        "cache_control": {"type": "ephemeral"},
                    },
                ],
            },
        ],
    )
    assert message.content[0].text == "you said: What is 2+2?\nAnswer in words."  # type: ignore[union-attr]
    assert [(m.role, m.content) for m in env.provider.requests[-1].messages] == [
        ("system", "You are terse.\nNo lists."),
        ("user", "hi"),
        ("assistant", "Hello."),
        ("user", "What is 2+2?\nAnswer in words."),
    ]


async def test_a_tool_the_model_calls_then_its_result(
    env: Env, sdk: anthropic.AsyncAnthropic
) -> None:
    env.scripts.queue.append(
        [
            TextChunk("Let me look."),
            ToolCallChunk("call_abc123", "get_weather", {"city": "Oslo"}),
            UsageChunk(30, 9),
            Finish("tool_calls"),
        ]
    )
    question = {"role": "user", "content": "Weather in Oslo?"}
    message = await sdk.messages.create(
        model="scripted",
        max_tokens=100,
        messages=[question],  # type: ignore[list-item]
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice={"type": "any"},
    )
    assert message.stop_reason == "tool_use"
    assert [b.type for b in message.content] == ["text", "tool_use"]
    call = message.content[1]
    assert call.type == "tool_use"
    assert call.id == "toolu_abc123"
    assert (call.name, call.input) == ("get_weather", {"city": "Oslo"})
    sent = env.provider.requests[-1]
    assert [(t.name, t.parameters) for t in sent.tools] == [
        ("get_weather", WEATHER["input_schema"])
    ]
    assert sent.tool_choice.mode == "required"

    # The client runs the tool and sends the result back, as the SDK's docs show.
    env.scripts.queue.append(reply("It is sunny in Oslo."))
    follow = await sdk.messages.create(
        model="scripted",
        max_tokens=100,
        messages=[
            question,  # type: ignore[list-item]
            {"role": "assistant", "content": message.content},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": call.id, "content": "sunny, 20C"},
                    {"type": "text", "text": "Thanks."},
                ],
            },
        ],
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice={"type": "tool", "name": "get_weather"},
    )
    assert follow.content[0].text == "It is sunny in Oslo."  # type: ignore[union-attr]
    sent = env.provider.requests[-1]
    assert [m.role for m in sent.messages] == ["user", "assistant", "tool", "user"]
    assistant, tool = sent.messages[1], sent.messages[2]
    assert assistant.content == "Let me look."
    assert [(c.id, c.name, c.arguments) for c in assistant.tool_calls] == [
        ("toolu_abc123", "get_weather", {"city": "Oslo"})
    ]
    assert (tool.tool_call_id, tool.name, tool.content) == (
        "toolu_abc123",
        "get_weather",
        "sunny, 20C",
    )
    assert (sent.tool_choice.mode, sent.tool_choice.name) == ("tool", "get_weather")


async def test_tool_result_blocks_and_errors_reach_the_model(
    env: Env, sdk: anthropic.AsyncAnthropic
) -> None:
    await sdk.messages.create(
        model="scripted",
        max_tokens=10,
        messages=[
            {"role": "user", "content": "Weather?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_1",
                        "content": [{"type": "text", "text": "city is required"}],
                        "is_error": True,
                    }
                ],
            },
        ],
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice={"type": "none"},
    )
    sent = env.provider.requests[-1]
    assert sent.messages[-1].role == "tool"
    assert sent.messages[-1].content == "Error: city is required"
    assert sent.tool_choice.mode == "none"


async def test_the_stream_event_by_event(env: Env) -> None:
    env.scripts.queue.append(reply("one two three", prompt_tokens=7))
    body = {
        "model": "scripted",
        "max_tokens": 30,
        "messages": [{"role": "user", "content": "count"}],
        "stream": True,
    }
    response = await env.client.post("/v1/messages", json=body)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse(response.text)
    assert all(name == data["type"] for name, data in events)
    assert [name for name, _ in events] == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    start = events[0][1]["message"]
    assert start["id"].startswith("msg_")
    assert (start["content"], start["stop_reason"], start["model"]) == ([], None, "scripted")
    assert events[1][1] == {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "text", "text": ""},
    }
    assert [e[1]["delta"] for e in events[3:6]] == [
        {"type": "text_delta", "text": t} for t in ("one", " two", " three")
    ]
    assert events[6][1] == {"type": "content_block_stop", "index": 0}
    assert events[7][1] == {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"input_tokens": 7, "output_tokens": 3},
    }


async def test_sdk_stream_text_and_final_message(env: Env, sdk: anthropic.AsyncAnthropic) -> None:
    env.scripts.queue.append(reply("a streamed answer", prompt_tokens=5))
    async with sdk.messages.stream(
        model="scripted", max_tokens=30, messages=[{"role": "user", "content": "go"}]
    ) as stream:
        pieces = [text async for text in stream.text_stream]
        final = await stream.get_final_message()
    assert "".join(pieces) == "a streamed answer"
    assert final.content[0].text == "a streamed answer"  # type: ignore[union-attr]
    assert final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (5, 3)


async def test_sdk_stream_with_text_then_tool_use(env: Env, sdk: anthropic.AsyncAnthropic) -> None:
    env.scripts.queue.append(
        [
            TextChunk("Checking."),
            ToolCallChunk("call_x", "get_weather", {"city": 'Zürich "old town"'}),
            UsageChunk(20, 12),
            Finish("tool_calls"),
        ]
    )
    async with sdk.messages.stream(
        model="scripted",
        max_tokens=60,
        messages=[{"role": "user", "content": "Weather?"}],
        tools=[WEATHER],  # type: ignore[list-item]
    ) as stream:
        final = await stream.get_final_message()
    assert [b.type for b in final.content] == ["text", "tool_use"]
    call = final.content[1]
    assert call.type == "tool_use"
    assert (call.id, call.name) == ("toolu_x", "get_weather")
    assert call.input == {"city": 'Zürich "old town"'}
    assert final.stop_reason == "tool_use"


async def test_reasoning_is_a_thinking_block_first(env: Env, sdk: anthropic.AsyncAnthropic) -> None:
    script = [ReasoningChunk("The user wants "), ReasoningChunk("a greeting."), TextChunk("Hi!")]
    env.scripts.queue.append([*script, UsageChunk(4, 6), Finish("stop")])
    async with sdk.messages.stream(
        model="scripted",
        max_tokens=2000,
        messages=[{"role": "user", "content": "hello"}],
        thinking={"type": "enabled", "budget_tokens": 1024},
    ) as stream:
        final = await stream.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "text"]
    assert final.content[0].thinking == "The user wants a greeting."  # type: ignore[union-attr]
    assert final.content[1].text == "Hi!"  # type: ignore[union-attr]

    env.scripts.queue.append([*script, UsageChunk(4, 6), Finish("stop")])
    plain = await sdk.messages.create(
        model="scripted",
        max_tokens=100,
        messages=[{"role": "user", "content": "hello"}],
        thinking={"type": "disabled"},
    )
    assert [b.type for b in plain.content] == ["text"]


async def test_max_tokens_stop_reason_and_an_empty_answer(
    env: Env, sdk: anthropic.AsyncAnthropic
) -> None:
    env.scripts.queue.append([TextChunk("one two"), UsageChunk(3, 2), Finish("length")])
    cut = await sdk.messages.create(
        model="scripted", max_tokens=2, messages=[{"role": "user", "content": "count"}]
    )
    assert cut.stop_reason == "max_tokens"
    env.scripts.queue.append([UsageChunk(3, 0), Finish("stop")])
    empty = await sdk.messages.create(
        model="scripted", max_tokens=5, messages=[{"role": "user", "content": "say nothing"}]
    )
    assert [(b.type, b.text) for b in empty.content] == [("text", "")]  # type: ignore[union-attr]
    env.scripts.queue.append([UsageChunk(3, 0), Finish("stop")])
    body = {
        "model": "scripted",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "say nothing"}],
        "stream": True,
    }
    names = [n for n, _ in sse((await env.client.post("/v1/messages", json=body)).text)]
    assert names == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]


async def test_a_quiet_stream_gets_pings_after_message_start(env: Env) -> None:
    env.services.settings.limits.sse_keepalive_seconds = 0.05
    env.scripts.queue.append([0.3, TextChunk("late"), UsageChunk(1, 1), Finish("stop")])
    body = {
        "model": "scripted",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "x"}],
        "stream": True,
    }
    events = sse((await env.client.post("/v1/messages", json=body)).text)
    names = [n for n, _ in events]
    assert names[0] == "message_start"
    assert names.count("message_start") == 1
    waiting = names[1 : names.index("content_block_start")]
    assert len(waiting) >= 2
    assert set(waiting) == {"ping"}
    assert names[-2:] == ["message_delta", "message_stop"]


async def test_a_stop_sequence_reached_is_named(env: Env, sdk: anthropic.AsyncAnthropic) -> None:
    env.scripts.queue.append([TextChunk("The answer is "), UsageChunk(5, 3), Finish("stop", "END")])
    message = await sdk.messages.create(
        model="scripted",
        max_tokens=20,
        stop_sequences=["STOP", "END"],
        messages=[{"role": "user", "content": "x"}],
    )
    assert (message.stop_reason, message.stop_sequence) == ("stop_sequence", "END")
    env.scripts.queue.append([TextChunk("The answer is "), UsageChunk(5, 3), Finish("stop", "END")])
    async with sdk.messages.stream(
        model="scripted",
        max_tokens=20,
        stop_sequences=["END"],
        messages=[{"role": "user", "content": "x"}],
    ) as stream:
        final = await stream.get_final_message()
    assert (final.stop_reason, final.stop_sequence) == ("stop_sequence", "END")
