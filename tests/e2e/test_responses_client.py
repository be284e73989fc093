"""The official openai SDK's Responses API against a real `roost serve` on the embedded
SmolLM2 model: create (plain, streamed, the stream helper, a function call and its output,
previous_response_id), retrieve, input_items, delete; two users."""

from __future__ import annotations

import json
from collections.abc import Iterator

import openai
import pytest

from tests.e2e.conftest import PASSWORD, Server

pytestmark = [pytest.mark.e2e, pytest.mark.model]

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
    "strict": True,
}


@pytest.fixture
def sdk(server: Server) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{server.url}/v1", api_key=PASSWORD, timeout=120) as client:
        yield client


def test_plain_streamed_and_the_stream_helper(sdk: openai.OpenAI) -> None:
    question = "What is the capital of France?"
    plain = sdk.responses.create(model="smollm2", input=question, max_output_tokens=40)
    assert plain.status in ("completed", "incomplete")
    assert "paris" in plain.output_text.lower()
    assert plain.usage is not None
    assert plain.usage.input_tokens > 10
    assert plain.usage.output_tokens > 0

    events = list(
        sdk.responses.create(model="smollm2", input=question, max_output_tokens=40, stream=True)
    )
    assert events[0].type == "response.created"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    streamed = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert streamed == plain.output_text  # greedy by default: the same answer both ways
    assert events[-1].type in ("response.completed", "response.incomplete")

    with sdk.responses.stream(model="smollm2", input=question, max_output_tokens=40) as stream:
        for _ in stream:
            pass
        final = stream.get_final_response()
    assert final.output_text == plain.output_text


def test_function_call_and_its_output(sdk: openai.OpenAI, server: Server) -> None:
    first = sdk.responses.create(
        model="smollm2",
        input="What is the weather in Paris?",
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice={"type": "function", "name": "get_weather"},
    )
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1
    call = calls[0]
    assert call.name == "get_weather"
    assert call.call_id
    assert isinstance(json.loads(call.arguments)["city"], str)

    second = sdk.responses.create(
        model="smollm2",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "22C, sunny"}],
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice="none",
        max_output_tokens=40,
    )
    assert second.output_text.strip()
    assert second.previous_response_id == first.id
    items = sdk.responses.input_items.list(second.id, order="asc").data
    assert [i.type for i in items] == ["message", "function_call", "function_call_output"]
    # One conversation in the native API: the question, the call, its result, the answer.
    with server.client() as native:
        sessions = native.get("/api/sessions").json()["sessions"]
        [session] = sessions
        stored = native.get(f"/api/sessions/{session['session_id']}").json()["messages"]
    assert [m["role"] for m in stored] == ["user", "assistant", "tool", "assistant"]
    assert stored[2]["content"] == "22C, sunny"


def test_previous_response_id_carries_the_conversation(sdk: openai.OpenAI) -> None:
    first = sdk.responses.create(
        model="smollm2", input="My name is Zorblax. Say hello to me.", max_output_tokens=30
    )
    second = sdk.responses.create(
        model="smollm2",
        input="What is my name?",
        previous_response_id=first.id,
        max_output_tokens=30,
    )
    # The model was asked with the first exchange: its prompt is longer by at least that.
    assert first.usage is not None
    assert second.usage is not None
    assert second.usage.input_tokens > first.usage.input_tokens + first.usage.output_tokens
    texts = [
        part.text  # type: ignore[union-attr]
        for item in sdk.responses.input_items.list(second.id, order="asc").data
        if item.type == "message"
        for part in item.content  # type: ignore[union-attr]
    ]
    assert texts == ["My name is Zorblax. Say hello to me.", first.output_text, "What is my name?"]


def test_retrieve_delete_and_another_user(sdk: openai.OpenAI, server: Server) -> None:
    made = sdk.responses.create(model="smollm2", input="Say one word.", max_output_tokens=10)
    got = sdk.responses.retrieve(made.id)
    assert got.id == made.id
    assert got.output_text == made.output_text
    assert got.usage == made.usage

    with server.client() as admin:
        other = admin.post("/admin/users", json={}).json()["api_key"]
    with openai.OpenAI(base_url=f"{server.url}/v1", api_key=other, timeout=120) as bob:
        with pytest.raises(openai.NotFoundError):
            bob.responses.retrieve(made.id)
        with pytest.raises(openai.NotFoundError):
            bob.responses.delete(made.id)
        with pytest.raises(openai.NotFoundError):
            bob.responses.input_items.list(made.id)
        with pytest.raises(openai.BadRequestError) as caught:
            bob.responses.create(model="smollm2", input="hi", previous_response_id=made.id)
        assert caught.value.code == "previous_response_not_found"

    sdk.responses.delete(made.id)
    with pytest.raises(openai.NotFoundError):
        sdk.responses.retrieve(made.id)
