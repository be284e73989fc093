"""POST /v1/responses with the official openai SDK (in process, scripted model): plain,
streamed (the exact event sequence), function calls, output formats, options, faults."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import openai
import pytest

from roost.core.errors import ProviderError
from roost.providers.base import Finish, ReasoningChunk, TextChunk, ToolCallChunk, UsageChunk
from roost.providers.scripted import reply
from tests.api.responses_helpers import conversation, sdk_for, sse
from tests.conftest import Env

pytestmark = pytest.mark.asyncio

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    "strict": False,
}


@pytest.fixture
async def sdk(env: Env) -> AsyncIterator[openai.AsyncOpenAI]:
    async with sdk_for(env) as client:
        yield client


async def test_plain_text_input(env: Env, sdk: openai.AsyncOpenAI) -> None:
    env.scripts.queue.append(reply("Paris is the capital.", prompt_tokens=12))
    result = await sdk.responses.create(
        model="scripted",
        input="Capital of France?",
        instructions="Be brief.",
        max_output_tokens=50,
        temperature=0.3,
        top_p=0.9,
        metadata={"topic": "geography"},
    )
    assert result.id.startswith("resp_")
    assert result.object == "response"
    assert result.status == "completed"
    assert result.output_text == "Paris is the capital."
    assert result.usage is not None
    assert (result.usage.input_tokens, result.usage.output_tokens) == (12, 4)
    assert result.usage.total_tokens == 16
    # The request's parameters are echoed.
    assert result.instructions == "Be brief."
    assert result.max_output_tokens == 50
    assert result.metadata == {"topic": "geography"}
    assert (result.temperature, result.top_p, result.store) == (0.3, 0.9, True)
    sent = env.provider.requests[-1]
    assert conversation(sent.messages) == [("system", "Be brief."), ("user", "Capital of France?")]
    assert (sent.options.max_tokens, sent.options.temperature, sent.options.top_p) == (
        50,
        0.3,
        0.9,
    )


async def test_item_list_input(env: Env, sdk: openai.AsyncOpenAI) -> None:
    await sdk.responses.create(
        model="scripted",
        input=[
            {"role": "developer", "content": "Answer in French."},
            {"role": "user", "content": [{"type": "input_text", "text": "Hello"}]},
            {"type": "message", "role": "assistant", "content": "Bonjour"},
            {"role": "user", "content": "How are you?"},
        ],
    )
    assert conversation(env.provider.requests[-1].messages) == [
        ("system", "Answer in French."),
        ("user", "Hello"),
        ("assistant", "Bonjour"),
        ("user", "How are you?"),
    ]


def _types(events: list[tuple[str, dict[str, object]]]) -> list[str]:
    return [name for name, _ in events]


async def test_stream_event_sequence(env: Env) -> None:
    env.scripts.queue.append(reply("one two", prompt_tokens=5))
    body = {"model": "scripted", "input": "count", "stream": True}
    response = await env.client.post("/v1/responses", json=body)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert "[DONE]" not in response.text
    events = sse(response.text)
    assert _types(events) == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [p["sequence_number"] for _, p in events] == list(range(len(events)))
    assert all(p["type"] == name for name, p in events)
    created = events[0][1]["response"]
    assert isinstance(created, dict)
    assert (created["status"], created["output"], created["usage"]) == ("in_progress", [], None)
    deltas = [p["delta"] for name, p in events if name == "response.output_text.delta"]
    assert deltas == ["one", " two"]
    item_id = events[2][1]["item"]["id"]  # type: ignore[index]
    assert all(p["item_id"] == item_id for name, p in events[3:8])
    assert events[8][1]["item"]["id"] == item_id  # type: ignore[index]
    final = events[-1][1]["response"]
    assert isinstance(final, dict)
    assert final["status"] == "completed"
    assert final["usage"]["output_tokens"] == 2
    assert final["output"][0]["content"][0]["text"] == "one two"
    assert final["output"][0]["id"] == item_id
    # The stored response reads the same.
    stored = (await env.client.get(f"/v1/responses/{final['id']}")).json()
    assert stored["output"] == final["output"]
    assert stored["usage"] == final["usage"]


async def test_sdk_streams(env: Env, sdk: openai.AsyncOpenAI) -> None:
    env.scripts.queue.append(reply("streamed answer here"))
    stream = await sdk.responses.create(model="scripted", input="go", stream=True)
    events = [event async for event in stream]
    assert events[0].type == "response.created"
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == "streamed answer here"
    assert events[-1].type == "response.completed"

    env.scripts.queue.append(reply("helper answer"))
    async with sdk.responses.stream(model="scripted", input="again") as helper:
        async for _ in helper:
            pass
        final = await helper.get_final_response()
    assert final.output_text == "helper answer"
    assert final.status == "completed"


async def test_function_call_and_its_output(env: Env, sdk: openai.AsyncOpenAI) -> None:
    env.scripts.queue.append(
        [
            ToolCallChunk("call_1", "get_weather", {"city": "Oslo"}),
            UsageChunk(9, 3),
            Finish("tool_calls"),
        ]
    )
    first = await sdk.responses.create(
        model="scripted",
        input="Weather in Oslo?",
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice={"type": "function", "name": "get_weather"},
    )
    [call] = first.output
    assert call.type == "function_call"
    assert (call.call_id, call.name) == ("call_1", "get_weather")
    assert json.loads(call.arguments) == {"city": "Oslo"}
    assert first.tool_choice.name == "get_weather"  # type: ignore[union-attr]
    sent = env.provider.requests[-1]
    assert sent.tools[0].name == "get_weather"
    assert sent.tools[0].parameters == WEATHER["parameters"]
    assert (sent.tool_choice.mode, sent.tool_choice.name) == ("tool", "get_weather")

    env.scripts.queue.append(reply("It is sunny in Oslo."))
    second = await sdk.responses.create(
        model="scripted",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": "call_1", "output": "sunny, 20C"}],
        tools=[WEATHER],  # type: ignore[list-item]
    )
    assert second.output_text == "It is sunny in Oslo."
    assert second.previous_response_id == first.id
    messages = env.provider.requests[-1].messages
    assert conversation(messages) == [
        ("user", "Weather in Oslo?"),
        ("assistant", ""),
        ("tool", "sunny, 20C"),
    ]
    assert messages[1].tool_calls[0].arguments == {"city": "Oslo"}
    assert (messages[2].tool_call_id, messages[2].name) == ("call_1", "get_weather")
    # One conversation, in the native API too.
    [session] = (await env.client.get("/api/sessions")).json()["sessions"]
    stored = (await env.client.get(f"/api/sessions/{session['session_id']}")).json()
    assert [m["role"] for m in stored["messages"]] == ["user", "assistant", "tool", "assistant"]


async def test_function_calls_sent_as_items(env: Env, sdk: openai.AsyncOpenAI) -> None:
    """A client that keeps the history itself sends the call and its output back."""
    result = await sdk.responses.create(
        model="scripted",
        input=[
            {"role": "user", "content": "Weather in Oslo and Rome?"},
            {
                "type": "function_call",
                "call_id": "c1",
                "name": "get_weather",
                "arguments": '{"city":"Oslo"}',
            },
            {
                "type": "function_call",
                "call_id": "c2",
                "name": "get_weather",
                "arguments": '{"city":"Rome"}',
            },
            {"type": "function_call_output", "call_id": "c1", "output": "rain"},
            {
                "type": "function_call_output",
                "call_id": "c2",
                "output": [{"type": "input_text", "text": "sun"}],
            },
        ],
        tools=[WEATHER],  # type: ignore[list-item]
    )
    assert result.output_text == "you said: sun"
    messages = env.provider.requests[-1].messages
    assert [m.role for m in messages] == ["user", "assistant", "tool", "tool"]
    assert [c.id for c in messages[1].tool_calls] == ["c1", "c2"]
    assert [(m.tool_call_id, m.name) for m in messages[2:]] == [
        ("c1", "get_weather"),
        ("c2", "get_weather"),
    ]


async def test_streamed_function_call_events(env: Env) -> None:
    env.scripts.queue.append(
        [
            TextChunk("Checking."),
            ToolCallChunk("call_9", "get_weather", {"city": "Oslo"}),
            Finish("tool_calls"),
        ]
    )
    body = {"model": "scripted", "input": "x", "stream": True, "tools": [WEATHER]}
    events = sse((await env.client.post("/v1/responses", json=body)).text)
    assert _types(events) == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    added = events[5][1]
    assert added["output_index"] == 1
    assert added["item"] == {
        "id": added["item"]["id"],  # type: ignore[index]
        "type": "function_call",
        "status": "in_progress",
        "call_id": "call_9",
        "name": "get_weather",
        "arguments": "",
    }
    assert json.loads(events[6][1]["delta"]) == {"city": "Oslo"}  # type: ignore[arg-type]
    assert events[7][1]["name"] == "get_weather"
    final = events[-1][1]["response"]
    assert [i["type"] for i in final["output"]] == ["message", "function_call"]  # type: ignore[index]


async def test_reasoning_is_an_output_item(env: Env, sdk: openai.AsyncOpenAI) -> None:
    env.scripts.queue.append([ReasoningChunk("Think first."), TextChunk("42"), Finish("stop")])
    stream = await sdk.responses.create(model="scripted", input="answer?", stream=True)
    events = [event async for event in stream]
    kinds = [e.type for e in events]
    assert kinds.index("response.reasoning_text.delta") < kinds.index("response.output_text.delta")
    final = events[-1].response  # type: ignore[union-attr]
    assert [i.type for i in final.output] == ["reasoning", "message"]
    assert final.output[0].content[0].text == "Think first."  # type: ignore[union-attr,index]
    stored = await sdk.responses.retrieve(final.id)
    assert [i.type for i in stored.output] == ["reasoning", "message"]


async def test_text_format_reaches_the_provider(env: Env, sdk: openai.AsyncOpenAI) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    env.scripts.queue.append(reply('{"n": 3}'))
    result = await sdk.responses.create(
        model="scripted",
        input="a number",
        text={"format": {"type": "json_schema", "name": "num", "schema": schema, "strict": True}},
    )
    assert json.loads(result.output_text) == {"n": 3}
    fmt = env.provider.requests[-1].response_format
    assert fmt is not None
    assert (fmt.type, fmt.schema, fmt.name) == ("json_schema", schema, "num")
    assert result.text.format.type == "json_schema"  # type: ignore[union-attr]

    await sdk.responses.create(
        model="scripted", input="json please", text={"format": {"type": "json_object"}}
    )
    fmt = env.provider.requests[-1].response_format
    assert fmt is not None
    assert fmt.type == "json_object"


async def test_length_is_incomplete(env: Env, sdk: openai.AsyncOpenAI) -> None:
    env.scripts.queue.append([TextChunk("cut"), UsageChunk(3, 1), Finish("length")])
    result = await sdk.responses.create(model="scripted", input="long", max_output_tokens=1)
    assert result.status == "incomplete"
    assert result.incomplete_details is not None
    assert result.incomplete_details.reason == "max_output_tokens"
    stored = await sdk.responses.retrieve(result.id)
    assert stored.status == "incomplete"


async def test_failure_before_output_is_502(env: Env, sdk: openai.AsyncOpenAI) -> None:
    env.scripts.queue.append([ProviderError("upstream refused the connection")])
    with pytest.raises(openai.APIStatusError) as caught:
        await sdk.responses.create(model="scripted", input="x", stream=True)
    assert caught.value.status_code == 502
    assert caught.value.body["type"] == "upstream_error"  # type: ignore[index]
    env.scripts.queue.append([ProviderError("upstream refused again")])
    with pytest.raises(openai.APIStatusError) as plain:
        await sdk.responses.create(model="scripted", input="x")
    assert plain.value.status_code == 502


async def test_failure_mid_stream_is_response_failed(env: Env, sdk: openai.AsyncOpenAI) -> None:
    env.scripts.queue.append([TextChunk("half"), ProviderError("upstream stream ended early")])
    stream = await sdk.responses.create(model="scripted", input="x", stream=True)
    events = [event async for event in stream]
    assert events[-1].type == "response.failed"
    failed = events[-1].response  # type: ignore[union-attr]
    assert failed.status == "failed"
    assert failed.error is not None
    assert "ended early" in failed.error.message
    stored = await sdk.responses.retrieve(failed.id)
    assert stored.status == "failed"
    assert stored.error is not None
    assert stored.error.code == "server_error"
    assert stored.output_text == "half"  # the partial reply is kept, as a native turn's


async def test_unknown_model_is_404(env: Env, sdk: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        await sdk.responses.create(model="gpt-99", input="x")
    assert caught.value.body["code"] == "model_not_found"  # type: ignore[index]
    assert (await env.client.get("/api/sessions")).json()["total"] == 0
